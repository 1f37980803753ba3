"""Kafka messages → rows or dead letters: every way a message can be bad, and the good way."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest
from confluent_kafka import Message

from tests.support.store import result
from wac.result import Details, encode
from wac.store.decode import (
    CHECK_COLUMNS,
    CHECK_TYPES,
    LATE_AFTER,
    MAX_TARGET_BYTES,
    check_row,
    decode_batch,
    late_minutes,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def message(
    value: bytes | None, key: bytes | None = b"example", offset: int = 0, partition: int = 0
) -> Message:
    return Message(
        topic="results", partition=partition, offset=offset, key=key, value=value, timestamp=(1, 1)
    )


def good(**changes: object) -> tuple[bytes, bytes]:
    changes.setdefault("checked_at", NOW - timedelta(seconds=1))
    r = result("example", **changes)  # type: ignore[arg-type]
    return r.target.encode(), encode(r)


def decode_one(value: bytes | None, key: bytes | None = b"example", **kwargs: object):
    return decode_batch([message(value, key)], max_bytes=65536, now=NOW, **kwargs)  # type: ignore[arg-type]


def test_row_has_every_column_in_order() -> None:
    r = result(
        "example",
        ok=False,
        pattern="Example",
        pattern_matched=False,
        final_url="https://example.example.com/next",
    )
    row = dict(zip(CHECK_COLUMNS, check_row(r), strict=True))
    assert len(CHECK_COLUMNS) == len(CHECK_TYPES) == 21
    assert row == {
        "id": r.id,
        "target": "example",
        "url": r.url,
        "monitor": r.monitor,
        "checked_at": r.checked_at,
        "ok": False,
        "status_code": 503,
        "response_time_ms": 12.5,
        "resolve_ms": 0.5,
        "connect_ms": 1.0,
        "tls_ms": 3.0,
        "processing_ms": 6.0,
        "transfer_ms": 2.0,
        "pattern": "Example",
        "pattern_matched": False,
        "tls_expires_at": r.tls_expires_at,
        "final_url": "https://example.example.com/next",
        "error_kind": "status",
        "error_message": "HTTP status 503, expected 2xx or 3xx",
        "probe": None,  # an HTTP result: NULL, as in a message without the field
        "details": None,
    }
    assert dict(zip(CHECK_COLUMNS, check_row(result()), strict=True))["error_kind"] is None


def test_row_of_another_probe_has_its_name_and_details_as_jsonb() -> None:
    details = Details(dns_rcode="NXDOMAIN", dns_answers=[], address="127.0.0.1")
    r = result("example", ok=False, probe="dns", details=details)
    row = dict(zip(CHECK_COLUMNS, check_row(r), strict=True))
    assert row["probe"] == "dns"
    assert row["details"].obj == details
    # Written as JSON without the fields the probe did not fill.
    assert row["details"].dumps(row["details"].obj) == (
        b'{"address":"127.0.0.1","dns_rcode":"NXDOMAIN","dns_answers":[]}'
    )


def test_good_messages_become_rows_and_offsets() -> None:
    messages = [message(good()[1], offset=o, partition=o % 2) for o in range(10, 15)]
    batch = decode_batch(messages, max_bytes=65536, now=NOW)
    assert len(batch.rows) == len(batch.results) == len(batch.sources) == 5
    assert not batch.rejected and batch.duplicates == 0 and batch.messages == 5
    assert batch.offsets == {("results", 0): 15, ("results", 1): 14}
    assert batch.sources[0] is messages[0]


@pytest.mark.parametrize(
    ("value", "key", "reason"),
    [
        (b"not json", b"example", "not JSON"),
        (b'{"v": 1, "id": ', b"example", "not JSON"),
        (b'{"target": "\xff\xfe"}', b"example", "not UTF-8"),
        (None, b"example", "empty message"),
        (b"[1, 2]", b"example", "not a valid v1 result"),
        (json.dumps({**json.loads(good()[1]), "v": 2}).encode(), b"example", "$.v"),
        (
            json.dumps({k: v for k, v in json.loads(good()[1]).items() if k != "monitor"}).encode(),
            b"example",
            "missing required field `monitor`",
        ),
        (
            json.dumps({**json.loads(good()[1]), "status_code": "200"}).encode(),
            b"example",
            "$.status_code",
        ),
        (
            json.dumps({**json.loads(good()[1]), "id": "not-a-uuid"}).encode(),
            b"example",
            "$.id",
        ),
        (
            json.dumps({**json.loads(good()[1]), "checked_at": "2026-11-28T12:00:00"}).encode(),
            b"example",
            "$.checked_at",
        ),
        (good()[1], b"other", "is not the result's target"),
        (good()[1], None, "Kafka key (none)"),
        (good(url="https://a.example/\u0000")[1], b"example", "NUL"),
        (good(checked_at=NOW + timedelta(days=2))[1], b"example", "ahead of this store's clock"),
        (good(checked_at=datetime(1, 1, 1, tzinfo=UTC))[1], b"example", "before 2000"),
    ],
)
def test_bad_messages_are_rejected_raw_with_a_reason(
    value: bytes | None, key: bytes | None, reason: str
) -> None:
    batch = decode_one(value, key)
    assert not batch.rows
    (rejected,) = batch.rejected
    assert reason in rejected.reason
    assert rejected.value == value and rejected.key == key
    assert (rejected.topic, rejected.partition, rejected.offset) == ("results", 0, 0)
    assert batch.offsets == {("results", 0): 1}  # settled: its offset is committed


def test_huge_message_is_rejected() -> None:
    value = encode(result("example", error=None, final_url="https://x/" + "a" * 70_000))
    batch = decode_one(value)
    assert "over the limit of 65536" in batch.rejected[0].reason


def test_target_too_long_to_index_is_rejected() -> None:
    target = "t" * (MAX_TARGET_BYTES + 1)
    batch = decode_one(encode(result(target)), target.encode())
    assert "over the limit" in batch.rejected[0].reason


def test_escaped_backslash_u0000_is_not_a_nul() -> None:
    key, value = good(url="https://a.example/\\u0000")  # a backslash, then 'u0000'
    assert b"\\\\u0000" in value
    assert len(decode_one(value, key).rows) == 1


def test_same_id_twice_in_a_batch_is_one_row() -> None:
    _, value = good()
    batch = decode_batch(
        [message(value, offset=0), message(value, offset=1)], max_bytes=65536, now=NOW
    )
    assert len(batch.rows) == 1 and batch.duplicates == 1
    assert batch.offsets == {("results", 0): 2}


def test_results_older_than_the_horizon_are_counted_and_skipped() -> None:
    old = result("example", checked_at=NOW - timedelta(days=40))
    batch = decode_one(encode(old), horizon=NOW - timedelta(days=30))
    assert not batch.rows and not batch.rejected and batch.expired == 1


def test_unknown_fields_are_ignored() -> None:
    body = {**json.loads(good()[1]), "added_in_v1_later": {"x": 1}}
    batch = decode_one(json.dumps(body).encode())
    assert len(batch.rows) == 1


def test_the_model_validates_what_the_schema_promises() -> None:
    """The store validates with the msgspec model the schema is generated from."""
    body = json.loads(good()[1])
    body["phases"]["connect"] = -1
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(json.dumps(body).encode(), type=type(result()))
    assert (
        ">= 0.0 - at `$.phases.connect`" in decode_one(json.dumps(body).encode()).rejected[0].reason
    )
    assert uuid.UUID(body["id"])  # ids are UUIDs on the wire


def poison_cases() -> list[tuple[str, bytes, str]]:
    body = json.loads(good()[1])

    def changed(**change: object) -> bytes:
        return json.dumps({**body, **change}).encode()

    deep = good()[1][:-1] + b',"x":' + b"[" * 1000 + b"]" * 1000 + b"}"
    return [
        ("deep", deep, "nested more than 32 levels deep"),
        ("huge time", changed(response_time_ms=1e308), "$.response_time_ms"),
        ("expiry past 9999 in UTC", changed(tls_expires_at="9999-12-31T23:00:00-05:00"), "after"),
        ("expiry before 1950", changed(tls_expires_at="1900-01-01T00:00:00Z"), "before 1950"),
        ("phase over a day", changed(phases={"tls": 9e7}), "$.phases.tls"),
        ("NUL in details", changed(probe="dns", details={"dns_answers": ["a\u0000"]}), "NUL"),
        ("NUL in a detail", changed(probe="tcp", details={"tcp_reply": "\u0000"}), "NUL"),
        ("NUL in the probe", changed(probe="tcp\u0000"), "$.probe"),
        ("probe not a name", changed(probe="TCP probe"), "$.probe"),
        ("loss over 100%", changed(details={"icmp_loss_pct": 101}), "$.details.icmp_loss_pct"),
        ("rtt over a day", changed(details={"icmp_rtt_max_ms": 1e300}), "icmp_rtt_max_ms"),
        ("too many answers", changed(details={"dns_answers": ["a"] * 65}), "$.details.dns_answers"),
        (
            "an answer too long",
            changed(details={"dns_answers": ["a" * 1025]}),
            "$.details.dns_answers[0]",
        ),
        ("answers nested", changed(details={"dns_answers": [["a"]]}), "$.details.dns_answers[0]"),
        ("count negative", changed(details={"icmp_sent": -1}), "$.details.icmp_sent"),
        ("unknown error kind", changed(error={"kind": "gremlins", "message": "x"}), "kind"),
    ]


@pytest.mark.parametrize(("name", "value", "reason"), poison_cases())
def test_poison_messages_are_dead_letters_and_the_rest_of_the_batch_is_rows(
    name: str, value: bytes, reason: str
) -> None:
    messages = [
        message(good()[1], offset=0),
        message(value, offset=1),
        message(good()[1], offset=2),
    ]
    batch = decode_batch(messages, max_bytes=65536, now=NOW)
    assert len(batch.rows) == 2
    (rejected,) = batch.rejected
    assert reason in rejected.reason and rejected.offset == 1 and rejected.value == value
    assert batch.offsets == {("results", 0): 3}


def test_an_unforeseen_error_with_one_message_is_a_dead_letter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import wac.store.decode as decode_module

    def exploding(*args: object) -> str | None:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(decode_module, "_refusal", exploding)
    batch = decode_one(good()[1])
    assert not batch.rows
    assert batch.rejected[0].reason == "cannot be stored: OverflowError: date value out of range"


def test_late_minutes_are_the_utc_minutes_of_the_rows_before_the_cutoff() -> None:
    cutoff = NOW - LATE_AFTER
    on_time = [result(checked_at=NOW - timedelta(seconds=s)) for s in (1, 5, 29)]
    assert late_minutes(on_time, cutoff) == []
    assert late_minutes([], cutoff) == []
    east = timezone(timedelta(hours=2))
    late = [
        result(checked_at=(NOW - timedelta(hours=2) + timedelta(seconds=10)).astimezone(east)),
        result(checked_at=NOW - timedelta(hours=2, seconds=50)),
        result(checked_at=NOW - timedelta(days=3)),
    ]
    assert late_minutes(on_time + late, cutoff) == [
        NOW - timedelta(days=3),
        NOW - timedelta(hours=2, minutes=1),
        NOW - timedelta(hours=2),
    ]
    assert all(m.tzinfo == UTC for m in late_minutes(late, cutoff))
    # With the batch's span known, a batch on time is one comparison...
    assert late_minutes(late, cutoff, span=(NOW, NOW)) == []
    # ... and a late batch over a few minutes is marked whole, minute by minute.
    catching_up = [result(checked_at=NOW - timedelta(hours=1, seconds=s)) for s in (50, 170)]
    hour_ago = NOW - timedelta(hours=1)
    whole = [hour_ago - 3 * MIN, hour_ago - 2 * MIN, hour_ago - MIN]
    assert late_minutes(catching_up, cutoff) == whole
    assert (
        late_minutes(catching_up, cutoff, span=(hour_ago - 170 * SEC, hour_ago - 50 * SEC)) == whole
    )
    # (Over more than five minutes, as above, only the minutes that hold late rows.)


MIN, SEC = timedelta(minutes=1), timedelta(seconds=1)
