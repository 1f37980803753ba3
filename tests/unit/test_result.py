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
    new_check_id,
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


# --- the probes beside HTTP: compatible additions to v1 ------------------------------------


def test_http_results_are_written_as_before_the_probe_field() -> None:
    """Fields added to v1 are written only when set: an HTTP result has neither `probe`
    nor `details`, so readers older than them decode it on their fast path."""
    body = json.loads(encode(sample()))
    assert "probe" not in body and "details" not in body and "final_url" not in body
    assert sample().probe_name == "http"


def test_a_v1_message_of_an_older_writer_reads_as_http() -> None:
    body = json.loads(encode(sample()))
    body["final_url"] = None  # older writers wrote the null
    result = read(body)
    assert result == sample() and result.probe is None and result.probe_name == "http"


def test_probe_and_details_round_trip() -> None:
    from wac.result import Details

    result = sample(
        probe="dns",
        status_code=None,
        error=CheckError("dns", "x.test. does not exist (NXDOMAIN from 127.0.0.1:53)"),
        details=Details(address="127.0.0.1", dns_rcode="NXDOMAIN", dns_answers=[], dns_tcp=False),
    )
    body = json.loads(encode(result))
    assert body["probe"] == "dns"
    assert body["details"] == {
        "address": "127.0.0.1",
        "dns_rcode": "NXDOMAIN",
        "dns_answers": [],
        "dns_tcp": False,
    }
    assert read(body) == result and result.probe_name == "dns"


def test_a_newer_writers_probe_and_details_are_read_without_what_is_unknown() -> None:
    body = json.loads(encode(sample()))
    body.update(probe="grpc", details={"address": "192.0.2.1", "grpc_status": "SERVING"})
    result = read(body)
    assert result.probe == "grpc" and result.details is not None
    assert result.details.address == "192.0.2.1"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"probe": ""}, "$.probe"),
        ({"probe": "A" * 3}, "$.probe"),
        ({"probe": "x" * 33}, "$.probe"),
        ({"details": {"icmp_loss_pct": 100.5}}, "$.details.icmp_loss_pct"),
        ({"details": {"icmp_sent": 10_001}}, "$.details.icmp_sent"),
        ({"details": {"dns_answers": ["a"] * 65}}, "$.details.dns_answers"),
        ({"details": {"tcp_reply": "x" * 1025}}, "$.details.tcp_reply"),
        ({"details": {"tls_verified": "yes"}}, "$.details.tls_verified"),
        ({"details": []}, "$.details"),
        ({"error": {"kind": "gremlins", "message": "x"}}, "$.error.kind"),
    ],
)
def test_probe_and_details_out_of_their_bounds_are_refused(change: dict, fragment: str) -> None:
    body = json.loads(encode(sample()))
    body.update(change)
    assert fragment in refusal(body)


def test_the_new_error_kinds_are_in_the_one_set() -> None:
    from wac.result import ERROR_KINDS

    assert ERROR_KINDS == (
        "dns", "connect", "timeout", "tls", "status", "pattern", "protocol", "too_large",
        "other", "packet_loss", "assertion", "heartbeat",
    )  # fmt: skip
    for kind in ("packet_loss", "assertion", "heartbeat"):
        assert read(json.loads(encode(sample(error=CheckError(kind, "x"))))).error.kind == kind  # type: ignore[union-attr]


def test_the_schema_states_the_phases_of_each_probe() -> None:
    probe = json_schema()["$defs"]["CheckResult"]["properties"]["probe"]
    text = json.dumps(probe)
    for phrase in (
        "http: resolve, connect, tls (https), processing, transfer",
        "tls: resolve, connect, tls",
        "dns: resolve",
        "icmp: resolve",
    ):
        assert phrase in text


def test_check_ids_are_random_version_4_uuids_that_survive_the_wire() -> None:
    ids = [new_check_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for check_id in ids[:100]:
        assert check_id.version == 4
        assert check_id.variant == uuid.RFC_4122
        assert uuid.UUID(str(check_id)) == check_id
        assert hash(check_id) == hash(uuid.UUID(str(check_id)))
    assert decode(encode(sample(id=ids[0]))).id == ids[0]
    # Every random bit moves: no constant bits beyond the version and variant.
    ored = anded = ids[0].int
    for check_id in ids:
        ored |= check_id.int
        anded &= check_id.int
    assert bin(ored).count("1") - bin(anded).count("1") == 122
