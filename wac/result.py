"""The check result and its wire form: JSON v1, one Kafka message per check.

The msgspec model below is the contract. `docs/result-v1.schema.json` is generated
from it (`wac schema`), and a test keeps the two equal. Consumers must ignore
fields they do not know: optional fields may be added to v1 without a new version.

Every number and time has a range, chosen so that PostgreSQL and Python both hold the
value and any sum of them (`docs/result-v1.schema.json` states them): times in ms from 0 to
one day (`MAX_MS`), `checked_at` from 2000 on, `tls_expires_at` from 1950 (X.509's
earliest date) on, both until the end of year 9999 *in UTC* (Python's last year, so
that converting an offset such as `9999-12-31T23:00:00-05:00` to UTC cannot fail).

Every probe writes this one message. `probe` names the probe that made it (absent:
http, so messages of older writers read as they were meant) and `details` holds what
that probe saw beyond the common fields (DNS answers, TLS version, ICMP round trips,
...), every string, list and number of it bounded. Both are written only when set:
an HTTP result is the same message as before they existed.

`read_result` is the one guard every consumer of the topic (the store, `wac alert`)
decodes a message with. A message is untrusted input: the guard never raises anything
but `BadMessage`, whose text is the reason, and it bounds size and nesting before the
full parse (msgspec recurses once per nesting level, and a value nested a thousand
levels deep would raise RecursionError).
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

SCHEMA_VERSION = 1

# One documented set for every probe (README, "What a result says"). A consumer older
# than a kind refuses a message that has it: upgrade stores and alerters before monitors.
ErrorKind = Literal[
    "dns",
    "connect",
    "timeout",
    "tls",
    "status",
    "pattern",
    "protocol",
    "too_large",
    "other",
    "packet_loss",
    "assertion",
    "heartbeat",
]
ERROR_KINDS: tuple[str, ...] = ErrorKind.__args__  # type: ignore[attr-defined]

# The probes that make results (`probe`; absent means http). The field takes any short
# lower-case name, so that a result of a probe added later is not refused by this reader.
PROBES = ("http", "tcp", "tls", "dns", "icmp", "push")
_ALL_PHASES = ("resolve", "connect", "tls", "processing", "transfer")
# The phases each probe may fill (ProbeName's description says when), and those among
# them it fills only sometimes: tls for https or a tcp target with `tls: true`,
# processing and transfer for a tcp target that expects a reply.
PROBE_PHASES: dict[str, tuple[str, ...]] = {
    "http": _ALL_PHASES,
    "tcp": _ALL_PHASES,
    "tls": ("resolve", "connect", "tls"),
    "dns": ("resolve",),
    "icmp": ("resolve",),
    "push": (),
}
SOMETIMES_FILLED: dict[str, frozenset[str]] = {
    "http": frozenset({"tls"}),
    "tcp": frozenset({"tls", "processing", "transfer"}),
}

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
# Bounds of `details` (see Details): a result stays far below a Kafka message's limit.
MAX_DNS_ANSWERS = 64
MAX_ANSWER_CHARS = 1024
MAX_REPLY_CHARS = 1024
MAX_ECHO_REQUESTS = 10_000
MAX_READ_BYTES = 1024**3
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


def _text(most: int, description: str) -> msgspec.Meta:
    return msgspec.Meta(max_length=most, description=description)


def _count(most: int, description: str) -> msgspec.Meta:
    return msgspec.Meta(ge=0, le=most, description=description)


def _flag(description: str) -> msgspec.Meta:
    return msgspec.Meta(description=description)


_ANSWER = Annotated[str, msgspec.Meta(max_length=MAX_ANSWER_CHARS)]


class Details(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """What the probe saw beyond the common fields; each probe fills its own (absent: not
    measured). Every string, list and number is bounded."""

    address: (
        Annotated[str, _text(64, "tcp, tls, icmp: the IP address checked; dns: the server asked")]
        | None
    ) = None
    tcp_reply: (
        Annotated[
            str,
            _text(
                MAX_REPLY_CHARS,
                "tcp: the start of the reply (at most 256 bytes), bytes that are not "
                "printable ASCII written as \\xNN",
            ),
        ]
        | None
    ) = None
    tcp_reply_bytes: (
        Annotated[int, _count(MAX_READ_BYTES, "tcp: how many bytes of the reply were read")] | None
    ) = None
    tls_version: (
        Annotated[str, _text(32, "tcp with tls, tls: the negotiated version (TLSv1.3)")] | None
    ) = None
    tls_cipher: (
        Annotated[str, _text(128, "tcp with tls, tls: the negotiated cipher suite")] | None
    ) = None
    tls_verified: (
        Annotated[
            bool,
            _flag(
                "tls: whether the chain verified against the trusted CAs (absent when "
                "verify_tls is false)"
            ),
        ]
        | None
    ) = None
    tls_verify_error: Annotated[str, _text(512, "tls: why the chain did not verify")] | None = None
    tls_host_matched: (
        Annotated[bool, _flag("tls: whether the certificate is for the host name")] | None
    ) = None
    dns_rcode: (
        Annotated[str, _text(32, "dns: the answer's rcode (NOERROR, NXDOMAIN, SERVFAIL, ...)")]
        | None
    ) = None
    dns_answers: (
        Annotated[
            list[_ANSWER],
            msgspec.Meta(
                max_length=MAX_DNS_ANSWERS,
                description="dns: the records of the type asked, in presentation form "
                "(`10 mail.example.` for MX), the first 64",
            ),
        ]
        | None
    ) = None
    dns_tcp: Annotated[bool, _flag("dns: the answer came over TCP (truncated over UDP)")] | None = (
        None
    )
    icmp_socket: (
        Annotated[str, _text(16, "icmp: the kind of socket used, `datagram` or `raw`")] | None
    ) = None
    icmp_sent: Annotated[int, _count(MAX_ECHO_REQUESTS, "icmp: echo requests sent")] | None = None
    icmp_received: (
        Annotated[int, _count(MAX_ECHO_REQUESTS, "icmp: echo replies received")] | None
    ) = None
    icmp_loss_pct: (
        Annotated[float, msgspec.Meta(ge=0, le=100, description="icmp: requests unanswered, in %")]
        | None
    ) = None
    icmp_rtt_min_ms: (
        Annotated[float, msgspec.Meta(ge=0, le=MAX_MS, description="icmp: the shortest round trip")]
        | None
    ) = None
    icmp_rtt_avg_ms: (
        Annotated[float, msgspec.Meta(ge=0, le=MAX_MS, description="icmp: the average round trip")]
        | None
    ) = None
    icmp_rtt_max_ms: (
        Annotated[float, msgspec.Meta(ge=0, le=MAX_MS, description="icmp: the longest round trip")]
        | None
    ) = None
    http_version: (
        Annotated[
            str,
            _text(8, "http, with http_version set: the version the server answered (1.1, 2)"),
        ]
        | None
    ) = None


ProbeName = Annotated[
    str,
    msgspec.Meta(
        pattern="^[a-z][a-z0-9_]{0,31}$",
        description=(
            "Which probe made the result: http (when absent), tcp, tls, dns, icmp, push. "
            "Phases each one fills: http: resolve, connect, tls (https), processing, "
            "transfer; tcp: resolve, connect, tls (with tls), processing (from the "
            "request sent, or the connection made, to the first byte of the reply) and "
            "transfer (to the end of the reply read), both only when a reply is expected; "
            "tls: resolve, connect, tls; dns: resolve (the whole query, with its TCP retry, "
            "and finding the server's address when it is given by name); icmp: resolve. "
            "response_time_ms is the whole check, except for icmp: the average round trip."
        ),
    ),
]


class CheckResult(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
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
    # Optional additions to v1 (older consumers ignore them); written only when set.
    final_url: str | None = None
    probe: ProbeName | None = None
    details: Details | None = None

    @property
    def probe_name(self) -> str:
        """The probe that made the result (`http` when the field is absent)."""
        return self.probe or "http"


class _LenientPhases(Phases, frozen=True, forbid_unknown_fields=False):
    pass


class _LenientError(CheckError, frozen=True, forbid_unknown_fields=False):
    pass


class _LenientDetails(Details, frozen=True, kw_only=True, forbid_unknown_fields=False):
    pass


class _LenientResult(CheckResult, frozen=True, kw_only=True, forbid_unknown_fields=False):
    phases: _LenientPhases
    error: _LenientError | None
    details: _LenientDetails | None = None


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


# A random (version 4) UUID without uuid4()'s cost: uuid4 asks the kernel for 16 bytes
# (a system call) and parses them in UUID.__init__, about 2 % of a check's CPU at full
# load. Here 122 bits from Python's generator (seeded from the kernel at start-up, and
# again in a forked child) are set straight on the object: ids stay unique across
# processes, which is all they are for (they are not secrets).
_UUID_V4_BITS = (0x4 << 76) | (0x2 << 62)  # version 4, RFC 4122 variant
_UUID_V4_MASK = ((1 << 128) - 1) ^ ((0xF000 << 64) | (0xC000 << 48))
_new_object = object.__new__
_set_slot = object.__setattr__
_random_bits = random.getrandbits
_UNKNOWN = uuid.SafeUUID.unknown


def new_check_id() -> uuid.UUID:
    value = _new_object(uuid.UUID)
    _set_slot(value, "int", (_random_bits(128) & _UUID_V4_MASK) | _UUID_V4_BITS)
    _set_slot(value, "is_safe", _UNKNOWN)
    return value


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
