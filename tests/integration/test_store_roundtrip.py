"""`wac store` on the real Kafka and PostgreSQL: every field, duplicates, poison messages."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.support.processes import start, stop, wait_for
from tests.support.store import (
    committed,
    counts,
    own_schema,
    produce,
    query,
    rejected_count,
    result,
)
from wac.result import CheckError, Phases, encode

pytestmark = pytest.mark.integration


@pytest.fixture
def env(isolated_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A topic, a consumer group and a database schema of the test's own."""
    with own_schema(isolated_env) as schema_env:
        yield schema_env


def rows_by_id(env: dict[str, str]) -> dict[str, dict]:
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        rows = cur.execute("SELECT * FROM checks").fetchall()
    return {str(row["id"]): row for row in rows}


def expected_row(wire: bytes) -> dict:
    """The row a message must become, derived from its JSON (not from the store's code)."""
    m = json.loads(wire)

    def when(text: str | None) -> datetime | None:
        return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))

    return {
        "id": uuid.UUID(m["id"]),
        "target": m["target"],
        "url": m["url"],
        "monitor": m["monitor"],
        "checked_at": when(m["checked_at"]),
        "ok": m["ok"],
        "status_code": m["status_code"],
        "response_time_ms": m["response_time_ms"],
        **{f"{phase}_ms": m["phases"][phase] for phase in m["phases"]},
        "pattern": m["pattern"],
        "pattern_matched": m["pattern_matched"],
        "tls_expires_at": when(m["tls_expires_at"]),
        "error_kind": m["error"]["kind"] if m["error"] else None,
        "error_message": m["error"]["message"] if m["error"] else None,
        "final_url": m.get("final_url"),
        "probe": m.get("probe"),
        "details": m.get("details"),
    }


def test_every_field_round_trips_and_targets_are_current(env: dict[str, str]) -> None:
    t0 = datetime.now(UTC).replace(microsecond=123456)
    full = result(
        "full",
        checked_at=t0,
        ok=False,
        status_code=404,
        response_time_ms=123.456789,
        phases=Phases(resolve=0.001, connect=1.5, tls=22.25, processing=99.125, transfer=0.5),
        pattern="Welcome.*home",
        pattern_matched=False,
        tls_expires_at=datetime(2027, 3, 1, 8, 30, 15, 250000, tzinfo=UTC),
        error=CheckError("pattern", "pattern 'Welcome.*home' not found — ünïcödé ✓"),
        final_url="https://full.example.com/after/redirect?q=1",
    )
    empty = result(
        "empty",
        checked_at=t0 + timedelta(milliseconds=1),
        ok=False,
        status_code=None,
        response_time_ms=None,
        phases=Phases(resolve=None, connect=None, tls=None, processing=None, transfer=None),
        tls_expires_at=None,
        error=CheckError("dns", "could not resolve host"),
    )
    ups = [result("full", checked_at=t0 - timedelta(seconds=s)) for s in (30, 20, 10)]
    wires = [encode(r) for r in (full, empty, *ups)]
    store = start(["wac", "store"], env)
    try:
        produce(env, [(r.target.encode(), w) for r, w in zip((full, empty, *ups), wires)])
        wait_for(lambda: counts(env)[0] == 5, 60, "5 rows")
    finally:
        code, _, log = stop(store)
    assert code == 0, log[-2000:]
    rows = rows_by_id(env)
    for wire in wires:
        expected = expected_row(wire)
        row = rows[str(expected["id"])]
        assert {k: row[k] for k in expected} == expected
        assert row["stored_at"] is not None
    # targets: first and last seen, status of the latest check (not of the last produced),
    # since when it holds, its response time, the latest certificate expiry.
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        targets = {r["target"]: r for r in cur.execute("SELECT * FROM targets").fetchall()}
    assert set(targets) == {"full", "empty"}
    assert targets["full"]["first_seen"] == t0 - timedelta(seconds=30)
    assert targets["full"]["last_seen"] == t0
    assert targets["full"]["last_ok"] is False and targets["full"]["last_status_code"] == 404
    assert targets["full"]["last_error_kind"] == "pattern"
    assert targets["full"]["last_check_id"] == full.id
    assert targets["full"]["status_since"] == t0  # down after three successes
    assert targets["full"]["last_response_time_ms"] == 123.456789
    assert targets["full"]["tls_expires_at"] == full.tls_expires_at
    assert targets["empty"]["last_status_code"] is None
    assert targets["empty"]["last_error_kind"] == "dns"
    assert targets["empty"]["status_since"] == empty.checked_at
    assert targets["empty"]["last_response_time_ms"] is None
    assert targets["empty"]["tls_expires_at"] is None


def test_results_of_every_probe_round_trip(env: dict[str, str]) -> None:
    """Real results of the tcp, tls, dns and icmp probes (local servers), a heartbeat
    result as push targets will publish, one of a probe this store does not know yet,
    and one of a writer older than the `probe` field: every one a row, as it came."""
    from tests.support.dns_server import dns_server
    from tests.support.probes import check_url
    from tests.support.servers import echo_server, free_port, local_ca, tls_site
    from wac.probes.dns import DnsOptions
    from wac.probes.tcp import TcpOptions
    from wac.result import Details

    with echo_server() as echo, dns_server() as dns, tls_site("expired") as (https, _):
        made = [
            check_url(f"tcp://127.0.0.1:{echo}", TcpOptions(send="ping", expect="ping")),
            check_url(f"tcp://127.0.0.1:{free_port()}"),
            check_url(f"tls://{https[8:]}", ca_bundle=str(local_ca().bundle)),
            check_url(f"dns://{dns.server}/www.test?type=MX", DnsOptions(expect="mail")),
            check_url(f"dns://{dns.server}/nxdomain.test"),
            check_url("icmp://127.0.0.1"),
        ]
    now = datetime.now(UTC)
    made += [
        result(
            "push",
            ok=False,
            status_code=None,
            response_time_ms=None,
            tls_expires_at=None,
            phases=Phases(),
            probe="push",
            error=CheckError("heartbeat", "no ping within interval 5m + grace 1m"),
        ),
        result("grpc", checked_at=now, probe="grpc", details=Details(address="192.0.2.7")),
    ]
    wires = [encode(r) for r in made]
    old_writer = json.loads(encode(result("old", checked_at=now)))
    assert "probe" not in old_writer and "details" not in old_writer  # as v1 was written
    wires.append(json.dumps(old_writer).encode())
    # A newer writer's unknown detail: the row keeps what this model knows.
    newer = json.loads(encode(made[-1]))
    newer["id"] = str(uuid.uuid4())
    newer["details"]["grpc_status"] = "SERVING"
    wires.append(json.dumps(newer).encode())
    store = start(["wac", "store"], env)
    try:
        produce(env, [(json.loads(w)["target"].encode(), w) for w in wires])
        wait_for(lambda: counts(env)[0] == len(wires), 60, f"{len(wires)} rows")
    finally:
        code, _, log = stop(store)
    assert code == 0, log[-2000:]
    assert rejected_count(env) == 0
    rows = rows_by_id(env)
    for wire in wires[:-1]:
        expected = expected_row(wire)
        row = rows[str(expected["id"])]
        assert {k: row[k] for k in expected} == expected
    assert rows[str(old_writer["id"])]["probe"] is None
    assert rows[newer["id"]]["details"] == {"address": "192.0.2.7"}
    stored = {row["target"]: row for row in rows.values()}
    assert stored[made[3].target]["details"]["dns_answers"] == ["10 mail.test."]
    assert stored[made[2].target]["error_kind"] == "tls"
    assert stored[made[2].target]["details"]["tls_verified"] is False
    assert stored[made[5].target]["details"]["icmp_received"] == 3
    assert stored["push"]["error_kind"] == "heartbeat" and stored["push"]["probe"] == "push"


def test_the_same_message_twice_is_one_row(env: dict[str, str]) -> None:
    twice = result("dup")
    others = [result("other") for _ in range(200)]
    store = start(["wac", "store"], {**env, "WAC_STORE_STATS_INTERVAL": "0.5"})
    try:
        # Twice in one batch, then again later (a later batch), then a marker after it.
        produce(env, [twice, *others, twice])
        wait_for(lambda: counts(env)[0] == 201, 60, "201 rows")
        marker = result("marker")
        produce(env, [twice, marker])
        wait_for(lambda: query(env, "SELECT 1 FROM checks WHERE target = 'marker'"), 60, "marker")
        assert counts(env) == (202, 202)
        # Everything consumed and committed; the lag in the summary comes from librdkafka's
        # statistics (every second), so give it two of them to reach the log.
        wait_for(lambda: committed(env, 3) == 204, 60, "the store to commit")
        time.sleep(2.5)
    finally:
        code, _, first_log = stop(store)
    assert code == 0, first_log[-2000:]
    assert "2 duplicates ignored" in first_log
    # The periodic summary line.
    assert re.search(r"store: \d+ results in \d+ s \(\d+/s, \d+ batches", first_log), first_log
    summaries = [line for line in first_log.splitlines() if "store: " in line]
    assert any("lag 0" in line for line in summaries), summaries

    # Another group replays the whole topic into the same tables: nothing new.
    replay_env = {**env, "KAFKA_GROUP_ID": env["KAFKA_GROUP_ID"] + "-replay"}
    store = start(["wac", "store"], replay_env)
    try:
        wait_for(lambda: committed(replay_env, 3) == 204, 60, "the replay to commit")
    finally:
        code, _, log = stop(store)
    assert code == 0, log[-2000:]
    assert counts(env) == (202, 202)
    assert "204 consumed, 0 stored, 204 duplicates ignored" in log


def test_poison_messages_are_dead_letters_and_the_rest_flows(env: dict[str, str]) -> None:
    good = [result(f"site{i % 3}") for i in range(30)]
    body = json.loads(encode(good[0]))
    bad: list[tuple[bytes | None, bytes | None, str]] = [
        (b"site0", b"this is not JSON", "not JSON"),
        (b"site0", b'{"target": "\xff\xfe"}', "not UTF-8"),
        (b"site1", json.dumps({**body, "v": 2}).encode(), "not a valid v1 result"),
        (b"site1", json.dumps({**body, "ok": "yes"}).encode(), "$.ok"),
        (
            b"site2",
            json.dumps({k: v for k, v in body.items() if k != "checked_at"}).encode(),
            "missing required field `checked_at`",
        ),
        (b"site2", encode(result("site2", url="https://x/" + "y" * 100_000)), "over the limit"),
        (b"someone-else", encode(result("site0")), "is not the result's target"),
        (b"site0", encode(result("site0", monitor="nul\u0000here")), "NUL"),
        (b"site1", None, "empty message"),
    ]
    stream: list = []
    for i, item in enumerate(good):
        stream.append(item)
        if i < len(bad):
            stream.append(bad[i][:2])
    store = start(["wac", "store"], env)
    try:
        positions = produce(env, stream)
        wait_for(
            lambda: counts(env)[0] == len(good) and rejected_count(env) == len(bad),
            60,
            "good rows and dead letters",
        )
        # The store goes on after them.
        produce(env, [result("after")])
        wait_for(lambda: counts(env)[0] == len(good) + 1, 60, "a row after the poison")
    finally:
        code, _, log = stop(store)
    assert code == 0, log[-2000:]
    where = {id(item): pos for item, pos in zip(stream, positions)}
    dead = {
        (p, o): (key, value, reason)
        for p, o, key, value, reason in query(
            env,
            'SELECT "partition", "offset", key, value, reason FROM rejected_messages '
            "WHERE topic = %s",
            (env["KAFKA_TOPIC"],),
        )
    }
    assert len(dead) == len(bad)
    for item in stream:
        if isinstance(item, tuple):
            key, value, reason = next(b for b in bad if b[:2] == item)
            got_key, got_value, got_reason = dead[where[id(item)]]
            assert (bytes(got_key), got_value and bytes(got_value)) == (key, value)
            assert reason in got_reason, (reason, got_reason)
    assert "rejected to rejected_messages" in log


def test_a_row_the_database_refuses_is_a_dead_letter_and_the_batch_is_stored(
    env: dict[str, str],
) -> None:
    """Whatever slips past validation and is refused by PostgreSQL (here: a constraint
    added for the test) is found in its batch, rejected alone, and the rest stored."""
    query_env = env["POSTGRES_ENDPOINT"]
    with psycopg.connect(query_env, autocommit=True) as conn:
        conn.execute("ALTER TABLE checks ADD CONSTRAINT no_evil CHECK (monitor <> 'evil')")
    fine = [result(f"site{i % 7}") for i in range(300)]
    evil = result("site3", monitor="evil")
    store = start(["wac", "store"], env)
    try:
        positions = produce(env, [*fine[:150], evil, *fine[150:]])
        wait_for(lambda: rejected_count(env) == 1, 60, "the dead letter")
        wait_for(lambda: counts(env)[0] == 300, 60, "the other rows")
    finally:
        code, _, log = stop(store)
    assert code == 0, log[-2000:]
    ((partition, offset, value, reason),) = query(
        env, 'SELECT "partition", "offset", value, reason FROM rejected_messages'
    )
    assert (partition, offset) == positions[150]
    assert bytes(value) == encode(evil)
    assert reason.startswith("database refused it:") and "no_evil" in reason
    assert counts(env) == (300, 300)
