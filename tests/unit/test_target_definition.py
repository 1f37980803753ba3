"""A target's definition in the targets topic: encoded and decoded back to the same
definition; anything else a decoder is given (bytes, text, JSON of any shape) is either a
definition, a tombstone, or one BadDefinition naming what is wrong, never another error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_target_json import entries, from_file
from wac import limits
from wac.errors import ConfigError
from wac.targets import target_to_json
from wac.targets.definition import (
    BadDefinition,
    Definition,
    decode_definition,
    definition_json_schema,
    definition_to_json,
    encode_definition,
    masked_json,
    unmask,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
KEYS = st.sampled_from(["url", "name", "interval", "timeout", "paused", "v", "headers", "x"])


def good(entry: dict[str, object], paused: bool = False) -> Definition:
    return Definition(target=from_file(entry), paused=paused)


@FAST
@given(entries(), st.booleans())
def test_a_definition_reads_back_as_itself(entry: dict[str, object], paused: bool) -> None:
    definition = good(entry, paused)
    key, value = encode_definition(definition)
    assert key == definition.target.id.encode()
    decoded = decode_definition(key, value)
    assert decoded == definition
    assert decoded is not None and target_to_json(decoded.target) == target_to_json(
        definition.target
    )
    assert encode_definition(decoded) == (key, value)  # stable bytes: apply compares them


@FAST
@given(entries())
def test_the_value_is_a_targets_file_entry_plus_paused_and_v(entry: dict[str, object]) -> None:
    definition = good(entry)
    value = json.loads(encode_definition(definition)[1])
    assert value.pop("v") == 1
    assert value.pop("paused") is False
    assert value == target_to_json(definition.target)
    assert from_file(value) == definition.target  # the value is an entry the file takes


def test_a_record_without_a_value_is_a_tombstone() -> None:
    assert decode_definition(b"api", None) is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.binary(max_size=64)), st.one_of(st.none(), st.binary(max_size=300)))
def test_any_bytes_decode_or_raise_bad_definition(key: bytes | None, value: bytes | None) -> None:
    try:
        decoded = decode_definition(key, value)
    except BadDefinition as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert decoded is None or isinstance(decoded, Definition)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_decodes_or_raises_bad_definition(value: str) -> None:
    try:
        decode_definition(b"x", value.encode("utf-8", "surrogatepass"))
    except BadDefinition as exc:
        assert "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, JSON_VALUES, max_size=6))
def test_any_json_object_decodes_or_raises_bad_definition(value: dict[str, object]) -> None:
    raw = json.dumps(value).encode()
    try:
        decoded = decode_definition(b"some id", raw)
    except BadDefinition as exc:
        assert "\n" not in str(exc) and str(exc).startswith("definition")
    else:
        assert decoded is not None and decoded.target.id == "some id"


# `json` takes any JSON data, so no value is wrong for it alone (see the test after).
FIELDS = sorted(set(target_to_json(from_file({"url": "http://a/"}))) - {"json"})


@FAST
@given(entries(), st.sampled_from(FIELDS))
def test_a_wrong_field_names_the_field(entry: dict[str, object], field: str) -> None:
    value = definition_to_json(good(entry))
    value[field] = [[]]  # wrong for every field but json
    with pytest.raises(BadDefinition) as raised:
        decode_definition(str(good(entry).target.id).encode(), json.dumps(value).encode())
    assert field in str(raised.value)


def test_json_on_a_get_names_json() -> None:
    value = {"v": 1, "url": "http://a/", "json": [[]]}
    with pytest.raises(BadDefinition, match=r"json is sent as a request body.*method is GET"):
        decode_definition(b"GET http://a/", json.dumps(value).encode())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"url": "http://a/"}, "v must be 1"),
        ({"v": 2, "url": "http://a/"}, "v must be 1 (the definition's version), got 2"),
        ({"v": True, "url": "http://a/"}, "v must be 1"),
        ({"v": 1, "url": "http://a/", "paused": "yes"}, "paused must be true or false"),
        ({"v": 1, "url": "ftp://a/"}, "must start with http://, https://, tcp://"),
        ({"v": 1, "url": "http://a/", "interval": "soon"}, "interval"),
        ({"v": 1, "url": "http://a/", "colour": "red"}, "colour"),
        ({"v": 1}, "`url` is required"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_bad_definitions_say_what_to_fix(value: object, message: str) -> None:
    with pytest.raises(BadDefinition, match="^definition.*" + re.escape(message)):
        decode_definition(b"GET http://a/", json.dumps(value).encode())
    assert issubclass(BadDefinition, ConfigError)


def test_the_key_must_be_the_targets_id() -> None:
    _, value = encode_definition(good({"url": "http://a/", "name": "api"}))
    with pytest.raises(BadDefinition, match=r"the key 'web' is not the id .*'api'"):
        decode_definition(b"web", value)
    with pytest.raises(BadDefinition, match="without a key"):
        decode_definition(None, value)
    with pytest.raises(BadDefinition, match="key is not UTF-8"):
        decode_definition(b"\xff", value)


def test_size_and_nesting_are_bounded_before_parsing() -> None:
    huge = b'{"v": 1, "url": "http://a/", "name": "' + b"x" * limits.MAX_DEFINITION_BYTES + b'"}'
    with pytest.raises(BadDefinition, match="over the limit of 262144"):
        decode_definition(b"x", huge)
    deep = b'{"v": 1, "url": "http://a/", "headers": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    with pytest.raises(BadDefinition, match="nested more than 8 levels"):
        decode_definition(b"x", deep)


def test_not_json_and_not_utf8_are_named() -> None:
    with pytest.raises(BadDefinition, match="not valid JSON"):
        decode_definition(b"x", b"{")
    with pytest.raises(BadDefinition, match="not UTF-8"):
        decode_definition(b"x", b'{"url": "\xff"}')
    with pytest.raises(BadDefinition, match="written twice"):
        decode_definition(b"x", b'{"v": 1, "v": 1, "url": "http://a/"}')


def test_the_schema_lists_every_field_a_definition_writes() -> None:
    schema = definition_json_schema()
    written = definition_to_json(good({"url": "http://a/"}))
    assert set(schema["properties"]) == set(written)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) <= set(written)


def test_docs_schema_is_the_generated_one() -> None:
    """`wac schema --targets` wrote docs/target-definition-v1.schema.json; they agree."""
    path = Path(__file__).parents[2] / "docs" / "target-definition-v1.schema.json"
    assert json.loads(path.read_text()) == definition_json_schema()


def test_reads_mask_secrets_and_writes_keep_them() -> None:
    stored = good(
        {
            "url": "https://user:pw@example.com/x@y",
            "name": "api",
            "headers": {"Authorization": "Bearer s3cret", "Accept": "text/html"},
        }
    )
    shown_value = masked_json(stored)
    assert "pw" not in json.dumps(shown_value) and "s3cret" not in json.dumps(shown_value)
    assert shown_value["url"] == "https://***@example.com/x@y"
    assert shown_value["headers"] == {"Authorization": "***", "Accept": "text/html"}
    back = decode_definition(b"api", json.dumps(unmask(shown_value, stored)).encode())
    assert back == stored
    with pytest.raises(BadDefinition, match=r"url holds \*\*\* as its credentials"):
        unmask(shown_value, None)
    with pytest.raises(BadDefinition, match=r"headers: Authorization is \*\*\*"):
        unmask({**shown_value, "url": "https://example.com/"}, None)
