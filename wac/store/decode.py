"""Kafka messages → rows for `checks`, or dead letters with the reason.

`wac.result.read_result` is the contract's guard: size and nesting bounded before the
full parse, then types, required fields, `v == 1` and the ranges of every number and
time. On top of it the store refuses what PostgreSQL could not hold or should not keep:
a Kafka key that is not the result's target, a target too long to index, text with a
NUL character, a `checked_at` more than a day ahead of this clock. Results older than
the retention horizon are counted and skipped (their partition is gone or about to be).

A message is never dropped silently: it becomes a row, a dead letter, a counted
duplicate (same `id` twice in one batch) or a counted expired result. Whatever goes
wrong with one message (even an error nobody foresaw) makes it a dead letter with the
reason; it never stops the batch.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any

import msgspec
from confluent_kafka import Message
from psycopg.types.json import Jsonb

from wac import limits
from wac.result import BadMessage, CheckResult, read_result
from wac.runtime.dead_letters import Rejected
from wac.store.target_status import TargetUpdate

# The `target` index holds at most ~2.7 kB per entry; keep well under it.
MAX_TARGET_BYTES = limits.MAX_TARGET_ID_BYTES
MAX_CLOCK_AHEAD = timedelta(days=1)
# A result stored more than this after its check is *late*: its minute may be rolled up
# already (the rollup closes a minute 2 min after its end), so the store marks the
# minute for the rollup to recompute. The margin under 2 min allows for clock skew
# between the store's host and the database's.
LATE_AFTER = timedelta(seconds=30)
# A late batch within this span is marked minute by minute, none left out, without
# looking at each result: recomputing a minute that got no late row costs little.
MARK_WHOLE_SPAN = timedelta(minutes=5)
MINUTE = timedelta(minutes=1)

PHASES = ("resolve", "connect", "tls", "processing", "transfer")
# Columns of `checks` the store writes, in row order (`phases` and `error` flattened).
CHECK_COLUMNS = (
    "id",
    "target",
    "url",
    "monitor",
    "checked_at",
    "ok",
    "status_code",
    "response_time_ms",
    "resolve_ms",
    "connect_ms",
    "tls_ms",
    "processing_ms",
    "transfer_ms",
    "pattern",
    "pattern_matched",
    "tls_expires_at",
    "final_url",
    "error_kind",
    "error_message",
    "probe",
    "details",
)
# PostgreSQL types of CHECK_COLUMNS, for binary COPY.
CHECK_TYPES = (
    "uuid",
    "text",
    "text",
    "text",
    "timestamptz",
    "bool",
    "int2",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "text",
    "bool",
    "timestamptz",
    "text",
    "text",
    "text",
    "text",
    "jsonb",
)

Row = tuple[Any, ...]
PartitionKey = tuple[str, int]


@dataclass
class Batch:
    """One batch of consumed messages, decoded; `rows[i]` came from `sources[i]`."""

    results: list[CheckResult] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    sources: list[Message] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    duplicates: int = 0
    expired: int = 0
    # Per (topic, partition): the offset to commit once the batch is stored.
    offsets: dict[PartitionKey, int] = field(default_factory=dict)
    messages: int = 0
    # Kafka timestamp (ms) of the first message, to report how fresh the store is.
    first_timestamp_ms: int | None = None
    # Prepared ahead by the consumer thread (see StoreService): the rows as one binary
    # COPY stream, the writes to `targets`, the days the rows fall on.
    payload: bytes | None = None
    target_updates: list[TargetUpdate] | None = None
    target_payload: bytes | None = None
    days: set[date] | None = None
    # UTC minutes of the late rows (see LATE_AFTER), for `rollup_dirty`.
    late_minutes: list[datetime] | None = None


_row_head = attrgetter(*CHECK_COLUMNS[:8], *(f"phases.{p}" for p in PHASES), *CHECK_COLUMNS[13:17])
_NO_ERROR = (None, None)
_HTTP = (None, None)  # `probe` and `details` of an HTTP result: NULL
_encode_details = msgspec.json.Encoder().encode


def check_row(result: CheckResult) -> Row:
    """The `checks` row of a result, in CHECK_COLUMNS order."""
    error = result.error
    row = _row_head(result) + (_NO_ERROR if error is None else (error.kind, error.message))
    details = result.details
    if result.probe is None and details is None:
        return row + _HTTP
    return (*row, result.probe, None if details is None else Jsonb(details, dumps=_encode_details))


def time_span(results: Sequence[CheckResult]) -> tuple[datetime, datetime]:
    """The oldest and newest `checked_at` of these results (not empty)."""
    return min(r.checked_at for r in results), max(r.checked_at for r in results)


def late_minutes(
    results: Sequence[CheckResult],
    cutoff: datetime,
    span: tuple[datetime, datetime] | None = None,
) -> list[datetime]:
    """The UTC minutes, sorted, that hold the results checked before `cutoff`.

    Known the batch's `span` (oldest, newest), a batch on time costs one comparison, and
    a late batch over a few minutes (a store catching up reads in order) is marked whole
    without looking at each result.
    """
    if not results:
        return []
    oldest, newest = span or time_span(results)
    if oldest >= cutoff:
        return []
    first, last = _minute(oldest), _minute(min(newest, cutoff))
    if last - first <= MARK_WHOLE_SPAN:
        return [first + MINUTE * i for i in range((last - first) // MINUTE + 1)]
    return sorted({_minute(r.checked_at) for r in results if r.checked_at < cutoff})


def _minute(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(second=0, microsecond=0)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Decoding allocates tens of thousands of acyclic objects per batch; the cyclic GC
    scanning them halves the decode rate, and they are freed by reference counting."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def decode_batch(
    messages: Sequence[Message],
    *,
    max_bytes: int,
    now: datetime,
    horizon: datetime | None = None,
) -> Batch:
    """Decode and validate consumed messages (none of them an error event)."""
    batch = Batch(messages=len(messages))
    if not messages:
        return batch
    batch.first_timestamp_ms = _timestamp_ms(messages[0])
    latest = now + MAX_CLOCK_AHEAD
    seen: set[Any] = set()
    offsets = batch.offsets
    results, rows, sources, rejected = batch.results, batch.rows, batch.sources, batch.rejected
    with gc_paused():
        for message in messages:
            # A consumed message always has a topic, partition and offset.
            offsets[(message.topic(), message.partition())] = message.offset() + 1  # type: ignore[index,operator]
            value = message.value()
            try:
                result = read_result(value, max_bytes)
                reason = _refusal(result, message.key(), value, latest)
                if reason is None:
                    if horizon is not None and result.checked_at < horizon:
                        batch.expired += 1
                        continue
                    if result.id in seen:
                        batch.duplicates += 1
                        continue
                    seen.add(result.id)
                    row = check_row(result)
                    results.append(result)
                    rows.append(row)
                    sources.append(message)
                    continue
            except BadMessage as exc:
                reason = str(exc)
            except Exception as exc:  # a bug, not the message's fault: still not a stop
                reason = f"cannot be stored: {type(exc).__name__}: {exc}"
            rejected.append(Rejected.of(message, reason))
    return batch


def _refusal(
    result: CheckResult, key: bytes | None, value: bytes | None, latest: datetime
) -> str | None:
    """Why a valid v1 result cannot be stored, or None."""
    target = result.target.encode()
    if key != target:
        return f"Kafka key {_show(key)} is not the result's target {result.target[:200]!r}"
    if len(target) > MAX_TARGET_BYTES:
        return f"target of {len(target)} bytes is over the limit of {MAX_TARGET_BYTES}"
    if value and b"\\u0000" in value and _has_nul(result):
        return "text with a NUL character (\\u0000), which PostgreSQL cannot store"
    if result.checked_at > latest:
        return (
            f"checked_at {result.checked_at.isoformat()} is more than "
            f"{MAX_CLOCK_AHEAD.days} day ahead of this store's clock"
        )
    return None


def _has_nul(result: CheckResult) -> bool:
    texts = [result.target, result.url, result.monitor, result.pattern, result.final_url]
    if result.error is not None:
        texts += [result.error.message]
    if result.probe is not None:
        texts += [result.probe]
    details = result.details
    if details is not None:  # jsonb refuses \u0000 in its strings too
        texts += [v for v in msgspec.structs.astuple(details) if isinstance(v, str)]
        texts += details.dns_answers or []
    return any(text is not None and "\x00" in text for text in texts)


def _show(key: bytes | None) -> str:
    if key is None:
        return "(none)"
    return repr(key[:200].decode("utf-8", "replace"))


def _timestamp_ms(message: Message) -> int | None:
    kind, value = message.timestamp()
    return value if kind != 0 and value > 0 else None  # 0 = TIMESTAMP_NOT_AVAILABLE
