import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from wac.result import (
    BadMessage,
    CheckError,
    CheckResult,
    Phases,
    decode,
    encode,
    json_schema,
    nesting_depth,
    read_result,
)

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


# --- the guard every consumer decodes with -----------------------------------------------


def read(body: dict | bytes, max_bytes: int = 65536) -> CheckResult:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return read_result(raw, max_bytes)


def refusal(body: dict | bytes, max_bytes: int = 65536) -> str:
    with pytest.raises(BadMessage) as caught:
        read(body, max_bytes)
    return str(caught.value)


def with_extra(extra: str) -> bytes:
    """A valid v1 result with one more field, its JSON text as given."""
    return encode(sample())[:-1] + b',"added_later":' + extra.encode() + b"}"


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deep_nesting_is_refused_before_the_full_parse(depth: int) -> None:
    for opening, closing in (("[", "]"), ('{"a":', "}")):
        reason = refusal(with_extra(opening * depth + "1" + closing * depth), 10**7)
        assert (
            reason == "not a valid v1 result: nested more than 32 levels deep (a v1 result nests 2)"
        )


def test_nesting_within_the_limit_in_an_unknown_field_is_ignored() -> None:
    result = read(with_extra("[" * 31 + "]" * 31))  # 32 levels with the result's own
    assert result == sample() and type(result) is CheckResult and type(result.phases) is Phases


def test_nesting_depth_counts_brackets_outside_strings_only() -> None:
    assert nesting_depth(b"{}") == 1
    assert nesting_depth(b'{"a": [1, {"b": [[]]}]}') == 5
    assert nesting_depth(b'{"a": "[[[{{{", "b": "\\\\", "c": "\\"[[", "d": [[]]}') == 3
    assert nesting_depth(b"[" * 50, stop_above=10) == 11
    assert nesting_depth(b"not json") == 0
    # Many brackets, all in strings: over the cheap bound, within the exact one.
    assert read(with_extra(json.dumps(["[{" * 100]))) == sample()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"response_time_ms": 1e308}, "<= 86400000.0 - at `$.response_time_ms`"),
        ({"response_time_ms": 86_400_000.5}, "$.response_time_ms"),
        ({"phases": {"connect": 1e300}}, "$.phases.connect"),
        ({"status_code": 1000}, "$.status_code"),
        ({"status_code": -1}, "$.status_code"),
        ({"tls_expires_at": "9999-12-31T23:00:00-05:00"}, "after 9999-12-31T23:59:59.999999Z"),
        ({"tls_expires_at": "1949-12-31T23:59:59Z"}, "before 1950-01-01T00:00:00Z"),
        ({"tls_expires_at": "0001-01-01T00:30:00+01:00"}, "$.tls_expires_at"),
        ({"checked_at": "0001-01-01T00:00:00Z"}, "before 2000-01-01T00:00:00Z"),
        ({"checked_at": "9999-12-31T23:59:59-00:01"}, "$.checked_at"),
    ],
)
def test_numbers_and_times_out_of_range_are_refused(change: dict, fragment: str) -> None:
    body = json.loads(encode(sample()))
    body.update(change)
    assert fragment in refusal(body)


def test_a_number_too_large_for_a_float_is_refused() -> None:
    raw = encode(sample()).replace(b'"response_time_ms":12.5', b'"response_time_ms":1e400')
    assert "Number out of range" in refusal(raw)


def test_the_edges_of_the_ranges_are_accepted() -> None:
    body = json.loads(encode(sample()))
    body.update(
        response_time_ms=86_400_000,
        tls_expires_at="9999-12-31T23:59:59Z",
        checked_at="2000-01-01T01:00:00+01:00",
    )
    assert read(body).tls_expires_at == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    body["tls_expires_at"] = "1950-01-01T00:00:00Z"
    assert read(body).response_time_ms == 86_400_000


def test_size_none_and_unforeseen_errors_are_reasons_too(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BadMessage, match="not JSON"):  # at the limit: decoded
        read_result(b"x" * 100, 100)
    with pytest.raises(BadMessage, match="over the limit of 100"):
        read_result(b" " * 101, 100)
    with pytest.raises(BadMessage, match="empty message"):
        read_result(None, 100)

    class Exploding:
        def decode(self, raw: bytes) -> CheckResult:
            raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr("wac.result._decoder", Exploding())
    assert refusal(encode(sample())) == (
        "cannot be decoded: RuntimeError: something nobody foresaw"
    )


def test_the_schema_states_a_range_for_every_number_and_time() -> None:
    def walk(node: object, path: str) -> list[str]:
        missing = []
        if isinstance(node, dict):
            if node.get("type") in ("number", "integer") and not (
                "minimum" in node and "maximum" in node
            ):
                missing.append(path)
            if node.get("format") == "date-time" and not (
                "formatMinimum" in node and "formatMaximum" in node and "description" in node
            ):
                missing.append(path)
            for key, value in node.items():
                missing += walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                missing += walk(value, f"{path}/{i}")
        return missing

    schema = json_schema()
    assert walk(schema, "") == []
    assert "additionalProperties" not in json.dumps(schema)  # unknown fields are allowed
