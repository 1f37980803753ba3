"""One typed target entry for the targets file and a target's JSON value: the same field
table, the same checks and messages, and a JSON form that reads back as the same target."""

from __future__ import annotations

import json
import string

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from wac.errors import ConfigError
from wac.targets import (
    FIELDS,
    HTTP_METHODS,
    Target,
    parse_targets_document,
    target_from_json,
    target_to_json,
)
from wac.yaml_config import parse_yaml

HOST = st.from_regex(r"[a-z0-9]{1,12}(\.[a-z]{2,6}){0,2}", fullmatch=True)
PATH = st.text(alphabet=string.ascii_letters + string.digits + "/-._~%?=&", max_size=30)
URLS = st.builds(
    lambda scheme, user, host, port, path: f"{scheme}://{user}{host}{port}/{path}",
    st.sampled_from(["http", "https"]),
    st.sampled_from(["", "user:secret@"]),
    HOST,
    st.sampled_from(["", ":8443", ":80"]),
    PATH,
)
NAMES = st.text(
    alphabet=st.characters(categories=("L", "N", "Zs", "P", "S")), min_size=1, max_size=40
).filter(lambda n: n.strip() == n and n.isprintable())
HEADER_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True)
HEADER_VALUES = st.text(alphabet=string.ascii_letters + string.digits + " ;=/-\t", max_size=20)


@st.composite
def entries(draw: st.DrawFn) -> dict[str, object]:
    """A valid targets-file entry, as YAML gives it: some fields given, others left out."""
    entry: dict[str, object] = {"url": draw(URLS)}
    optional = {
        "name": NAMES,
        "interval": st.one_of(
            st.floats(min_value=0.1, max_value=86400.0),
            st.sampled_from(["250ms", "30s", "5m", "1h", "1d", "1.5s"]),
        ),
        "timeout": st.one_of(
            st.floats(min_value=0.001, max_value=3600.0), st.sampled_from(["2s", "500ms", "1h"])
        ),
        "method": st.sampled_from([*HTTP_METHODS, "get", "Post"]),
        "headers": st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3),
        "expect_status": st.one_of(
            st.none(),
            st.integers(100, 599),
            st.lists(st.integers(100, 599), min_size=1, max_size=4),
        ),
        "pattern": st.one_of(st.none(), st.sampled_from(["ok", "^Example", "a+b?", r"\d{3}"])),
        "verify_tls": st.booleans(),
        "max_body_size": st.one_of(
            st.integers(1, 1024**3), st.sampled_from(["1MiB", "64KiB", "10KB"])
        ),
        "max_redirects": st.integers(0, 30),
    }
    for key, values in optional.items():
        if draw(st.booleans()):
            entry[key] = draw(values)
    return entry


def from_file(entry: dict[str, object], default_timeout: float = 1.0) -> Target:
    (target,) = parse_targets_document(
        {"targets": [entry]}, source="t.yaml", default_timeout=default_timeout
    )
    return target


@settings(max_examples=300, deadline=None)
@given(entry=entries(), default_timeout=st.sampled_from([1.0, 2.5]))
def test_the_json_form_reads_back_as_the_same_target(
    entry: dict[str, object], default_timeout: float
) -> None:
    target = from_file(entry, default_timeout)
    form = target_to_json(target)
    assert list(form) == [field.key for field in FIELDS]  # every field, always
    text = json.dumps(form)
    again = target_from_json(text.encode())
    assert again == target
    assert target_to_json(again) == form
    # The JSON form is also a valid targets-file entry, with the same meaning.
    assert from_file(json.loads(text)) == target
    # and a YAML file written from it reads back the same.
    assert (
        from_file(
            parse_yaml(yaml.safe_dump({"targets": [form]}, sort_keys=False), "t")["targets"][0]
        )
        == target
    )


def test_the_json_form_of_a_file_entry() -> None:
    target = from_file(
        {"url": "https://u:p@shop.example/", "name": "shop", "interval": "1m", "expect_status": 200}
    )
    assert target_to_json(target) == {
        "url": "https://u:p@shop.example/",  # a definition for a monitor: credentials kept
        "name": "shop",
        "interval": 60.0,
        "timeout": 1.0,
        "method": "GET",
        "headers": {},
        "expect_status": [200],
        "pattern": None,
        "verify_tls": True,
        "max_body_size": 1048576,
        "max_redirects": 5,
    } | dict.fromkeys(NEWER_FIELDS)  # the fields of later probes: null, as left out
    assert target_to_json(from_file({"url": "https://a/"}))["name"] is None


NEWER_FIELDS = [
    *("body", "json", "basic_auth_env", "bearer_token_env", "client_cert", "client_key"),
    *("http_version", "ip_version", "send", "expect", "tls", "min_tls_version", "count"),
    *("grace", "token_env", "assert"),
]

BAD_ENTRIES = [
    ({"url": "https://a/", "intervall": "5s"}, "#1 ('https://a/'): unknown key 'intervall'"),
    ({"url": "ftp://a/"}, "#1 ('ftp://a/'): url 'ftp://a/' must start with http"),
    ({"url": "https://a/", "name": "x", "pattern": "(x"}, "'x': pattern '(x' is not a valid regex"),
    ({"url": "https://a/", "name": "x", "interval": 0}, "'x': interval must be positive, got 0"),
    (
        {"url": "https://a/", "name": "x", "timeout": "2h"},
        "'x': timeout '2h' is too long: at most 1h",
    ),
    ({"url": "https://a/", "name": "x", "max_redirects": 31}, "'x': max_redirects must be a whole"),
    (
        {"url": "https://a/", "name": "x", "headers": {"X-A": "é"}},
        "'x': headers: X-A value contains",
    ),
    ({"url": "https://a/", "name": "x", "expect_status": [99]}, "'x': expect_status 99 is not"),
    (
        {"url": "https://a/", "name": "x", "verify_tls": "yes"},
        "'x': verify_tls must be true or false",
    ),
    ({"name": "x"}, "'x': `url` is required and must be a string"),
    (
        {"url": "https://a/", "name": "x", "max_body_size": "2GiB"},
        "'x': max_body_size '2GiB' is too",
    ),
]


@pytest.mark.parametrize(("entry", "fragment"), BAD_ENTRIES)
def test_the_file_and_a_json_value_refuse_alike(entry: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError) as in_file:
        from_file(entry)
    with pytest.raises(ConfigError) as as_json:
        target_from_json(json.dumps(entry))
    file_message, json_message = str(in_file.value), str(as_json.value)
    assert file_message.startswith("t.yaml: target ") and json_message.startswith("target ")
    # the same words after the place: the field and what is wrong with it
    assert file_message.split(": ", 2)[-1] == json_message.split(": ", 1)[-1]
    assert fragment.split(": ", 1)[-1] in json_message, json_message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (b'{"url": "https://a/", "url": "https://b/"}', "the key 'url' is written twice"),
        (b'{"url": "https://a/", "interval": NaN}', "NaN is not a JSON number"),
        (b'{"url": "https://a/", "timeout": Infinity}', "Infinity is not a JSON number"),
        (b'["https://a/"]', "expected a JSON object with at least `url`"),
        (b'{"url": "https://a/"', "not valid JSON"),
        (b'{"url": "https://a/\xff"}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_a_json_value_must_be_strict_json(value: bytes, fragment: str) -> None:
    with pytest.raises(ConfigError) as refused:
        target_from_json(value, "target 'k'")
    assert fragment in str(refused.value) and str(refused.value).startswith("target 'k'")


@settings(max_examples=300, deadline=None)
@given(
    value=st.dictionaries(
        st.sampled_from([f.key for f in FIELDS] + ["other"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3)
            ),
            max_leaves=6,
        ),
    )
)
def test_any_json_object_is_a_target_or_one_line(value: dict[str, object]) -> None:
    text = json.dumps(value)
    try:
        target = target_from_json(text)
    except ConfigError as exc:
        assert "\n" not in str(exc) and "secret" not in str(exc)
    else:
        assert target_from_json(json.dumps(target_to_json(target))) == target
