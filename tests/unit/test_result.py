import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from wac.result import CheckError, CheckResult, Phases, decode, encode, json_schema

SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "result-v1.schema.json"


def sample(**changes: object) -> CheckResult:
    base = CheckResult(
        v=1,
        id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        target="example",
        url="https://example.com/",
        monitor="eu-1",
        checked_at=datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC),
        ok=False,
        status_code=503,
        response_time_ms=12.5,
        phases=Phases(resolve=1.0, connect=2.0, tls=3.0, processing=4.0, transfer=2.5),
        pattern="Example",
        pattern_matched=None,
        tls_expires_at=datetime(2027, 1, 1, tzinfo=UTC),
        error=CheckError("status", "HTTP status 503, expected 2xx or 3xx"),
    )
    return msgspec.structs.replace(base, **changes)


def test_round_trip() -> None:
    result = sample()
    assert decode(encode(result)) == result


def test_wire_form_has_every_contract_field() -> None:
    body = json.loads(encode(sample()))
    assert body["v"] == 1
    assert body["id"] == "12345678-1234-5678-1234-567812345678"
    assert body["checked_at"] == "2026-11-28T12:00:00.123456Z"
    assert set(body["phases"]) == {"resolve", "connect", "tls", "processing", "transfer"}
    assert body["error"] == {"kind": "status", "message": "HTTP status 503, expected 2xx or 3xx"}
    for name in [
        "target",
        "url",
        "monitor",
        "ok",
        "status_code",
        "response_time_ms",
        "pattern",
        "pattern_matched",
        "tls_expires_at",
    ]:
        assert name in body


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    body = json.loads(encode(sample()))
    body["added_in_a_later_release"] = 42
    assert decode(json.dumps(body).encode()) == sample()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"v": 2}, "$.v"),
        ({"id": "not-a-uuid"}, "$.id"),
        ({"ok": "yes"}, "$.ok"),
        ({"checked_at": "2026-11-28T12:00:00"}, "$.checked_at"),
        ({"error": {"kind": "gremlins", "message": "x"}}, "$.error.kind"),
        ({"response_time_ms": -1}, "$.response_time_ms"),
        ({"target": ""}, "$.target"),
    ],
)
def test_invalid_messages_are_rejected_with_the_field(change: dict, fragment: str) -> None:
    body = json.loads(encode(sample()))
    body.update(change)
    with pytest.raises(msgspec.ValidationError, match=fragment.replace("$", r"\$")):
        decode(json.dumps(body).encode())


def test_missing_field_is_rejected() -> None:
    body = json.loads(encode(sample()))
    del body["monitor"]
    with pytest.raises(msgspec.ValidationError, match="monitor"):
        decode(json.dumps(body).encode())


def test_not_json_is_rejected() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode(b"\xff not json")


def test_docs_schema_is_the_generated_one() -> None:
    """The JSON Schema in the docs and the model the store validates with agree."""
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema()
