"""The check result and its wire form: JSON v1, one Kafka message per check.

The msgspec model below is the contract. `docs/result-v1.schema.json` is generated
from it (`wac schema`), and a test keeps the two equal. Consumers must ignore
fields they do not know: optional fields may be added to v1 without a new version.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

SCHEMA_VERSION = 1

ErrorKind = Literal[
    "dns", "connect", "timeout", "tls", "status", "pattern", "protocol", "too_large", "other"
]
ERROR_KINDS: tuple[str, ...] = ErrorKind.__args__  # type: ignore[attr-defined]

Milliseconds = Annotated[float, msgspec.Meta(ge=0)]
UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class Phases(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """Time spent in each phase of the check, in ms; null when the phase did not happen."""

    resolve: Milliseconds | None = None
    connect: Milliseconds | None = None
    tls: Milliseconds | None = None
    processing: Milliseconds | None = None
    transfer: Milliseconds | None = None


class CheckError(msgspec.Struct, frozen=True):
    kind: ErrorKind
    message: str


class CheckResult(msgspec.Struct, frozen=True, kw_only=True):
    """One check of one target, as published to Kafka."""

    v: Literal[1]
    id: uuid.UUID
    target: NonEmpty
    url: NonEmpty
    monitor: NonEmpty
    checked_at: UtcTime
    ok: bool
    status_code: Annotated[int, msgspec.Meta(ge=0, le=999)] | None
    response_time_ms: Milliseconds | None
    phases: Phases
    pattern: str | None
    pattern_matched: bool | None
    tls_expires_at: UtcTime | None
    error: CheckError | None
    # Optional additions to v1 (older consumers ignore them).
    final_url: str | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(CheckResult)


def encode(result: CheckResult) -> bytes:
    return _encoder.encode(result)


def decode(raw: bytes) -> CheckResult:
    """Decode and validate one message; raises msgspec.ValidationError or DecodeError."""
    return _decoder.decode(raw)


def new_check_id() -> uuid.UUID:
    return uuid.uuid4()


def utc_now() -> datetime:
    return datetime.now(UTC)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the v1 message, generated from the model above."""
    schema = msgspec.json.schema(CheckResult)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "wac check result, version 1"
    return schema
