"""The check result and its wire form: JSON v1, one Kafka message per check.

The msgspec model below is the contract. `docs/result-v1.schema.json` is generated
from it (`wac schema`), and a test keeps the two equal. Consumers must ignore
fields they do not know: optional fields may be added to v1 without a new version.

Every number and time has a range, chosen so that PostgreSQL and Python both hold the
value and any sum of them (`docs/result-v1.schema.json` states them): times in ms from 0 to
one day (`MAX_MS`), `checked_at` from 2000 on, `tls_expires_at` from 1950 (X.509's
earliest date) on, both until the end of year 9999 *in UTC* (Python's last year, so
that converting an offset such as `9999-12-31T23:00:00-05:00` to UTC cannot fail).

`read_result` is the one guard every consumer of the topic (the store, `wac alert`)
decodes a message with. A message is untrusted input: the guard never raises anything
but `BadMessage`, whose text is the reason, and it bounds size and nesting before the
full parse (msgspec recurses once per nesting level, and a value nested a thousand
levels deep would raise RecursionError).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

SCHEMA_VERSION = 1

ErrorKind = Literal[
    "dns", "connect", "timeout", "tls", "status", "pattern", "protocol", "too_large", "other"
]
ERROR_KINDS: tuple[str, ...] = ErrorKind.__args__  # type: ignore[attr-defined]

# A check never lasts a day: far above any timeout, and a million of them still sum to
# a finite float8.
MAX_MS = 86_400_000.0
# A v1 result nests two levels (the result, then `phases` or `error`); unknown fields
# added later may nest a little more, never this much.
MAX_NESTING = 32
EARLIEST_CHECK = datetime(2000, 1, 1, tzinfo=UTC)
EARLIEST_EXPIRY = datetime(1950, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime.max.replace(tzinfo=UTC)


def iso_utc(value: datetime) -> str:
    """A time as results write it: ISO 8601 in UTC, with `Z` (`2026-12-03T12:00:00Z`)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _time_meta(earliest: datetime, what: str) -> msgspec.Meta:
    bounds = f"from {iso_utc(earliest)} to {iso_utc(LATEST_TIME)} once converted to UTC"
    return msgspec.Meta(
        tz=True,
        description=f"RFC 3339 time with a zone: {what}, {bounds}.",
        extra_json_schema={
            "formatMinimum": iso_utc(earliest),
            "formatMaximum": iso_utc(LATEST_TIME),
        },
    )


Milliseconds = Annotated[float, msgspec.Meta(ge=0, le=MAX_MS)]
CheckedAt = Annotated[datetime, _time_meta(EARLIEST_CHECK, "when the check started")]
ExpiresAt = Annotated[
    datetime, _time_meta(EARLIEST_EXPIRY, "when the server's certificate expires")
]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


# The model forbids unknown fields so that the first, cheap decoding of a message cannot
# recurse: each field is a scalar or a flat object, and an unknown key stops it at once.
# The `_Lenient*` subclasses below ignore unknown fields, as the contract says; they are
# used only for a message the first decoding refused, after its nesting was bounded.
class Phases(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Time spent in each phase of the check, in ms; null when the phase did not happen."""

    resolve: Milliseconds | None = None
    connect: Milliseconds | None = None
    tls: Milliseconds | None = None
    processing: Milliseconds | None = None
    transfer: Milliseconds | None = None


class CheckError(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: ErrorKind
    message: str


class CheckResult(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One check of one target, as published to Kafka."""

    v: Literal[1]
    id: uuid.UUID
    target: NonEmpty
    url: NonEmpty
    monitor: NonEmpty
    checked_at: CheckedAt
    ok: bool
    status_code: Annotated[int, msgspec.Meta(ge=0, le=999)] | None
    response_time_ms: Milliseconds | None
    phases: Phases
    pattern: str | None
    pattern_matched: bool | None
    tls_expires_at: ExpiresAt | None
    error: CheckError | None
    # Optional additions to v1 (older consumers ignore them).
    final_url: str | None = None


class _LenientPhases(Phases, frozen=True, forbid_unknown_fields=False):
    pass


class _LenientError(CheckError, frozen=True, forbid_unknown_fields=False):
    pass


class _LenientResult(CheckResult, frozen=True, kw_only=True, forbid_unknown_fields=False):
    phases: _LenientPhases
    error: _LenientError | None


class BadMessage(ValueError):
    """A message that is not a storable v1 result; `str(exc)` is the reason."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(CheckResult)
_lenient_decoder = msgspec.json.Decoder(_LenientResult)
# Characters that matter for nesting: brackets, and what starts or escapes a string.
_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


def encode(result: CheckResult) -> bytes:
    return _encoder.encode(result)


def decode(raw: bytes) -> CheckResult:
    """Decode and validate one message (types, required fields, `v == 1`, ranges).

    Raises msgspec.ValidationError or msgspec.DecodeError (or ValueError for bytes that
    are not UTF-8); never recurses deeper than MAX_NESTING levels.
    """
    try:
        result = _decoder.decode(raw)
    except msgspec.ValidationError:
        result = _decode_lenient(raw)
    reason = _time_refusal(result)
    if reason is not None:
        raise msgspec.ValidationError(reason)
    return result


def read_result(raw: bytes | None, max_bytes: int) -> CheckResult:
    """The result in one message value, or BadMessage with the reason; nothing else.

    The store and `wac alert` decode with it. Its cost on a good message is msgspec's
    decoding and two comparisons of times.
    """
    if raw is None:
        raise BadMessage("empty message (no value)")
    if len(raw) > max_bytes:
        raise BadMessage(
            f"message of {len(raw)} bytes is over the limit of {max_bytes} "
            "(WAC_STORE_MAX_MESSAGE_BYTES)"
        )
    try:
        try:
            result = _decoder.decode(raw)
        except msgspec.ValidationError:
            result = _decode_lenient(raw)
    except msgspec.ValidationError as exc:
        raise BadMessage(f"not a valid v1 result: {exc}") from None
    except msgspec.DecodeError as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    except ValueError as exc:  # UnicodeDecodeError and kin
        raise BadMessage(f"not UTF-8 JSON: {exc}") from None
    except Exception as exc:  # never seen; one message must not stop a consumer
        raise BadMessage(f"cannot be decoded: {type(exc).__name__}: {exc}") from None
    tls = result.tls_expires_at
    if not EARLIEST_CHECK <= result.checked_at <= LATEST_TIME or (
        tls is not None and not EARLIEST_EXPIRY <= tls <= LATEST_TIME
    ):
        raise BadMessage(f"not a valid v1 result: {_time_refusal(result)}")
    return result


def _decode_lenient(raw: bytes) -> CheckResult:
    """Second decoding, for a message with unknown fields (or an error the first found).

    Bounds the nesting before parsing in full; returns the model's own type.
    """
    # Each level opens with `{` or `[`: their count bounds the depth at C speed, and only
    # a message over it needs the exact scan.
    if raw.count(b"{") + raw.count(b"[") > MAX_NESTING:
        depth = nesting_depth(raw, stop_above=MAX_NESTING)
        if depth > MAX_NESTING:
            raise msgspec.ValidationError(
                f"nested more than {MAX_NESTING} levels deep (a v1 result nests 2)"
            )
    lenient = _lenient_decoder.decode(raw)
    # Re-encoded and decoded as the model: the unknown fields are gone, the types exact.
    return _decoder.decode(_encoder.encode(lenient))


def nesting_depth(raw: bytes, stop_above: int | None = None) -> int:
    """How deep arrays and objects nest in this JSON text (brackets in strings do not
    count); stops counting once over `stop_above`. Malformed text gets a depth too."""
    depth = deepest = 0
    in_string = False
    escaped_at = -1
    for match in _STRUCTURE.finditer(raw):
        at = match.start()
        if at == escaped_at:
            continue
        char = raw[at]
        if in_string:
            if char == 0x5C:  # backslash: the next byte is escaped
                escaped_at = at + 1
            elif char == 0x22:
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    break
        elif char in b"]}":
            depth -= 1
    return deepest


def _time_refusal(result: CheckResult) -> str | None:
    """Why the result's times are out of range, or None."""
    checks = [("checked_at", result.checked_at, EARLIEST_CHECK)]
    if result.tls_expires_at is not None:
        checks.append(("tls_expires_at", result.tls_expires_at, EARLIEST_EXPIRY))
    for name, value, earliest in checks:
        if value < earliest:
            return f"{name} {value.isoformat()} is before {iso_utc(earliest)} - at `$.{name}`"
        if value > LATEST_TIME:
            return (
                f"{name} {value.isoformat()} is after {iso_utc(LATEST_TIME)} once converted "
                f"to UTC - at `$.{name}`"
            )
    return None


def new_check_id() -> uuid.UUID:
    return uuid.uuid4()


def utc_now() -> datetime:
    return datetime.now(UTC)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the v1 message, generated from the model above."""
    schema = msgspec.json.schema(CheckResult)
    # The model refuses unknown fields only to decode fast and safely (see above); the
    # contract is that consumers ignore them.
    for definition in schema["$defs"].values():
        definition.pop("additionalProperties", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "wac check result, version 1"
    return schema
