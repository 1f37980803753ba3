"""Property: whatever bytes arrive on the topic, decoding never raises. Each message
becomes a row PostgreSQL can hold, or a dead letter with its reason (the store), or a
BadMessage with its reason (`wac alert`, through the same guard).

`pytest -s` prints how many examples each property tried (so does
`--hypothesis-show-statistics`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.pgcopy import binary_copy
from tests.support.store import result
from wac.result import (
    EARLIEST_CHECK,
    EARLIEST_EXPIRY,
    LATEST_TIME,
    MAX_MS,
    BadMessage,
    CheckResult,
    encode,
    read_result,
)
from wac.store.decode import CHECK_COLUMNS, CHECK_TYPES, decode_batch

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MAX_BYTES = 65536
EXAMPLES = Counter[str]()
PROPERTY = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module", autouse=True)
def report_examples() -> Iterator[None]:
    yield
    for name, count in sorted(EXAMPLES.items()):
        print(f"\nHypothesis examples tried, {name}: {count}")


# --- what arrives on the topic ---------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and infinities too: json.dumps writes them as NaN, Infinity
    | st.sampled_from([1e308, -1e308, 5e-324, 86_400_000.0, 86_400_000.001, 0.0, -0.0])
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
odd_times = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{}".format,
    st.integers(0, 9999) | st.sampled_from([1, 1949, 1950, 1999, 2000, 9999]),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 24),
    st.integers(0, 60),
    st.integers(0, 60),
    st.sampled_from(["", ".5", ".999999", ".1234567"]),
    st.sampled_from(["Z", "+00:00", "-05:00", "+23:59", "-23:59", "+14:00", "", "+24:00", "z"]),
) | st.sampled_from(
    [
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59.999999-00:01",
        "0001-01-01T00:00:00+00:01",
        "2026-11-28T12:00:00+23:59",
        "1950-01-01T00:00:00Z",
    ]
)
DEEP = "__deep__"
FIELDS = [
    "v", "id", "target", "url", "monitor", "checked_at", "ok", "status_code",
    "response_time_ms", "phases", "pattern", "pattern_matched", "tls_expires_at", "error",
    "final_url", "probe", "details",
]  # fmt: skip
DETAIL_FIELDS = [
    "address", "tcp_reply", "tcp_reply_bytes", "tls_version", "tls_cipher", "tls_verified",
    "tls_verify_error", "tls_host_matched", "dns_rcode", "dns_answers", "dns_tcp",
    "icmp_socket", "icmp_sent", "icmp_received", "icmp_loss_pct", "icmp_rtt_min_ms",
    "icmp_rtt_avg_ms", "icmp_rtt_max_ms",
]  # fmt: skip
field_values = (
    json_values
    | odd_times
    | st.just(DEEP)
    | st.fixed_dictionaries(
        {},
        optional={p: json_values for p in ("resolve", "connect", "tls", "processing", "transfer")},
    )
    | st.fixed_dictionaries(
        {"kind": st.sampled_from(["dns", "other", "packet_loss", "gremlins"]), "message": scalars}
    )
    | st.sampled_from(["tcp", "dns", "icmp", "push", "grpc", "TCP", "", "tcp\x00"])
    | st.fixed_dictionaries(
        {},
        optional={
            **{name: json_values for name in DETAIL_FIELDS},
            "dns_answers": st.lists(st.text(max_size=1030), max_size=66) | json_values,
            "icmp_loss_pct": st.floats() | st.integers(-1, 101),
        },
    )
)


@st.composite
def messages(draw: st.DrawFn) -> tuple[bytes | None, bytes]:
    """(key, value): a good result with fields changed, removed or added."""
    body: dict[str, Any] = json.loads(encode(result("t", checked_at=NOW - timedelta(minutes=5))))
    changes = draw(
        st.dictionaries(
            st.sampled_from(FIELDS) | st.text(min_size=1, max_size=6), field_values, max_size=4
        )
    )
    body.update(changes)
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=2)):
        body.pop(name, None)
    text = json.dumps(body)
    if DEEP in text:
        depth = draw(st.integers(1, 3000))
        opening, closing = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ("[{", "}]")]))
        text = text.replace(f'"{DEEP}"', opening * depth + "0" + closing * depth, 1)
    target = body.get("target")
    key = draw(
        st.just(target.encode("utf-8", "surrogatepass"))
        if isinstance(target, str)
        else st.none() | st.binary(max_size=8)
    )
    return key, text.encode("utf-8", "surrogatepass")


# --- the properties ---------------------------------------------------------------------------


def message(key: bytes | None, value: bytes | None) -> Message:
    return Message(topic="results", partition=0, offset=7, key=key, value=value, timestamp=(1, 1))


def check_one(key: bytes | None, value: bytes | None, name: str) -> str:
    """Decode one message as the store does; assert it is a storable row or a dead letter."""
    EXAMPLES[name] += 1
    batch = decode_batch([message(key, value)], max_bytes=MAX_BYTES, now=NOW)
    assert len(batch.rows) + len(batch.rejected) + batch.expired + batch.duplicates == 1
    assert batch.offsets == {("results", 0): 8}
    if batch.rejected:
        (rejected,) = batch.rejected
        assert rejected.reason.strip() and "\n" not in rejected.reason.strip()
        assert (rejected.key, rejected.value) == (key, value)  # kept raw
        return "dead letter"
    (row,) = batch.rows
    binary_copy(batch.rows, CHECK_TYPES)  # the binary COPY format can hold it
    assert_in_range(dict(zip(CHECK_COLUMNS, row, strict=True)))
    assert_guard_agrees(value)
    return "row"


def assert_in_range(row: dict[str, Any]) -> None:
    for name in ("response_time_ms", "resolve_ms", "connect_ms", "tls_ms", "processing_ms"):
        value = row[name]
        assert value is None or (math.isfinite(value) and 0 <= value <= MAX_MS)
    assert EARLIEST_CHECK <= row["checked_at"] <= NOW + timedelta(days=1)
    row["checked_at"].astimezone(UTC)
    if row["tls_expires_at"] is not None:
        assert EARLIEST_EXPIRY <= row["tls_expires_at"] <= LATEST_TIME
        row["tls_expires_at"].astimezone(UTC)  # Python holds it in UTC
    assert row["status_code"] is None or 0 <= row["status_code"] <= 999
    details = row["details"]
    if details is not None:  # jsonb: text with no NUL, numbers in their ranges
        text = details.dumps(details.obj)
        assert b"\\u0000" not in text
        for name in ("icmp_rtt_min_ms", "icmp_rtt_avg_ms", "icmp_rtt_max_ms"):
            value = getattr(details.obj, name)
            assert value is None or 0 <= value <= MAX_MS
        loss = details.obj.icmp_loss_pct
        assert loss is None or 0 <= loss <= 100
        assert len(details.obj.dns_answers or []) <= 64
    assert row["probe"] is None or row["probe"].isidentifier()


def assert_guard_agrees(value: bytes | None) -> None:
    """`wac alert` decodes with the same guard: a result, or BadMessage only."""
    try:
        assert isinstance(read_result(value, MAX_BYTES), CheckResult)
    except BadMessage as exc:
        assert str(exc).strip()


@PROPERTY
@given(key=st.none() | st.binary(max_size=16), value=st.none() | st.binary(max_size=2000))
def test_arbitrary_bytes_are_a_row_or_a_dead_letter(key: bytes | None, value: bytes | None) -> None:
    check_one(key, value, "arbitrary bytes")
    assert_guard_agrees(value)


@PROPERTY
@given(value=json_values.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_json_is_a_row_or_a_dead_letter(value: bytes) -> None:
    check_one(b"t", value, "arbitrary JSON")
    assert_guard_agrees(value)


@PROPERTY
@given(message=messages())
def test_results_with_odd_fields_are_a_row_or_a_dead_letter(
    message: tuple[bytes | None, bytes],
) -> None:
    outcome = check_one(*message, "results with odd fields")
    EXAMPLES[f"results with odd fields ({outcome})"] += 1
    assert_guard_agrees(message[1])
