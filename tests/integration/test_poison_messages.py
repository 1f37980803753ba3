"""Poison messages among good ones, on the real services: `wac store` and `wac alert`
(one child process each, never restarted) keep running, store and act on every good
result after them, and dead-letter each poison message with its reason.

`pytest -s` prints the counts: rows stored, dead letters, restarts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import start, stop, wait_for
from tests.support.store import counts, own_schema, produce, query, result
from wac.result import encode

pytestmark = pytest.mark.integration

KEY = b"falls"  # every poison message and the failures after it share one partition


@pytest.fixture
def env(isolated_env: dict[str, str]) -> Iterator[dict[str, str]]:
    with own_schema(isolated_env) as schema_env:
        yield schema_env


def poison() -> list[tuple[str, bytes | None, str]]:
    """(name, value, what its reason says)."""
    good = encode(result("falls"))

    def with_field(field: bytes, value: bytes) -> bytes:
        start = good.index(b'"' + field + b'":') + len(field) + 3
        end = min(i for i in (good.find(b",", start), good.find(b"}", start)) if i > 0)
        return good[:start] + value + good[end:]

    def extra(text: bytes) -> bytes:
        return good[:-1] + b',"added":' + text + b"}"

    return [
        ("1,000 levels deep", extra(b"[" * 1000 + b"]" * 1000), "nested more than 32 levels"),
        ("10,000 levels deep", extra(b'{"a":' * 10000 + b"0" + b"}" * 10000), "nested more"),
        ("100,000 levels deep", extra(b"[" * 100_000 + b"]" * 100_000), "over the limit of 65536"),
        (
            "expiry past 9999 in UTC",
            with_field(b"tls_expires_at", b'"9999-12-31T23:00:00-05:00"'),
            "tls_expires_at 9999-12-31T23:00:00-05:00 is after 9999-12-31T23:59:59.999999Z",
        ),
        ("response time 1e308", with_field(b"response_time_ms", b"1e308"), "$.response_time_ms"),
        ("response time 1.7e308", with_field(b"response_time_ms", b"1.7e308"), "<= 86400000.0"),
        ("response time 1e400", with_field(b"response_time_ms", b"1e400"), "Number out of range"),
        ("NaN", with_field(b"response_time_ms", b"NaN"), "not JSON"),
        ("checked in year 1", with_field(b"checked_at", b'"0001-01-01T00:00:00Z"'), "before 2000"),
        ("not JSON", b"\x00\xff{garbage", "not JSON: JSON is malformed"),
        ("not UTF-8", b'{"v": 1, "target": "\xff\xfe"}', "not UTF-8 JSON"),
        ("a JSON array", b"[1, 2, 3]", "not a valid v1 result"),
        ("no value", None, "empty message (no value)"),
        ("a field of the wrong type", with_field(b"ok", b'"yes"'), "$.ok"),
    ]


def test_poison_messages_cost_only_themselves(env: dict[str, str]) -> None:
    before = [result(f"before-{i % 4}") for i in range(20)]
    bad = poison()
    # After the poison, on its partition: three failures (an incident for wac alert) ...
    after = [result("falls", ok=False) for _ in range(3)]
    # ... and more good results everywhere.
    after += [result(f"after-{i % 4}") for i in range(20)]

    # One process each, started once: any exit fails the test, so restarts are zero.
    store = start(["wac", "store"], env)
    alert = start(["wac", "alert"], env)

    def both_running() -> bool:
        for name, process in (("store", store), ("alert", alert)):
            if process.poll() is not None:
                pytest.fail(f"wac {name} exited: {process.communicate()[1][-3000:]}")
        return True

    try:
        produce(env, before)
        wait_for(lambda: both_running() and counts(env)[0] == 20, 60, "the first results stored")
        positions = produce(env, [(KEY, value) for _, value, _ in bad] + list(after))
        wait_for(
            lambda: both_running() and counts(env)[0] == len(before) + len(after),
            60,
            "every good result after the poison stored",
        )
        wait_for(
            lambda: both_running() and query(env, "SELECT count(*) FROM incidents")[0][0] == 1,
            60,
            "wac alert to open the incident the failures after the poison make",
        )
        wait_for(
            lambda: (
                both_running()
                and query(env, "SELECT count(*) FROM rejected_messages")[0][0] == len(bad)
            ),
            30,
            "every poison message dead-lettered",
        )
        both_running()
    finally:
        store_code, _, store_log = stop(store)
        alert_code, _, alert_log = stop(alert)
    assert (store_code, alert_code) == (0, 0), store_log[-3000:] + alert_log[-3000:]
    assert "Traceback" not in store_log and "Traceback" not in alert_log

    reasons = {
        (p, o): reason
        for p, o, reason in query(
            env, 'SELECT "partition", "offset", reason FROM rejected_messages'
        )
    }
    for (name, _, expected), position in zip(bad, positions[: len(bad)], strict=True):
        assert expected in reasons[position], (name, reasons[position])
    kept = query(env, 'SELECT value FROM rejected_messages WHERE "offset" = %s', (positions[0][1],))
    assert kept == [(bad[0][1],)]  # kept raw
    ((target,),) = query(env, "SELECT target FROM incidents")
    assert target == "falls"
    assert "skipped, not v1 results" in alert_log
    assert "rejected to rejected_messages" in store_log

    rows, ids = counts(env)
    assert rows == ids == len(before) + len(after)
    print(
        f"\npoison-message test: {rows} rows stored, {len(reasons)} dead letters "
        f"({len(bad)} poison messages among {len(before) + len(after)} good results), "
        "store restarts: 0, alert restarts: 0 (one process each, running throughout), "
        "incidents opened by wac alert from failures after the poison: 1"
    )
