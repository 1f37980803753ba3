"""Definitions made from a model (wac.targets.definition_models): whatever the record,
the decoder gives what `decode_definition` gives (the same definition, or a BadDefinition
with the same message), and most of a large fleet's records are made from a model."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_target_json import entries, from_file
from wac.targets import target_from_url
from wac.targets.definition import (
    BadDefinition,
    Definition,
    decode_definition,
    definition_from_json,
    encode_definition,
)
from wac.targets.definition_models import MAX_MODELS, DefinitionDecoder

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(decode: object, key: bytes | None, value: bytes | None) -> object:
    try:
        return decode(key, value)  # type: ignore[operator]
    except BadDefinition as exc:
        return ("refused", str(exc))


def same_as_in_full(decoder: DefinitionDecoder, key: bytes | None, value: bytes | None) -> None:
    assert outcome(decoder, key, value) == outcome(decode_definition, key, value)


def many(count: int, **fields: object) -> list[tuple[bytes, bytes]]:
    return [
        encode_definition(Definition(from_file({"url": f"https://example.com/p?t={i}", **fields})))
        for i in range(count)
    ]


def test_a_fleet_of_one_shape_is_made_from_one_model() -> None:
    records = many(50, interval="30s", headers={"X-Env": "prod"}, expect_status=[200, 204])
    decoder = DefinitionDecoder()
    decoded = [decoder(key, value) for key, value in records]
    assert decoded == [decode_definition(key, value) for key, value in records]
    assert decoder.fast == 49
    # The model's values are shared, not copied: the fleet's memory grows by url and id.
    assert decoded[1] is not None and decoded[2] is not None
    assert decoded[1].target.headers is decoded[2].target.headers


def test_named_and_paused_definitions_are_made_from_models_too() -> None:
    decoder = DefinitionDecoder()
    for i in range(3):
        for paused in (False, True):
            target = from_file({"url": f"http://h/{i}", "name": f"site {i} {paused}"})
            key, value = encode_definition(Definition(target, paused=paused))
            assert decoder(key, value) == Definition(target, paused=paused)
    assert decoder.fast == 4  # the first of each (paused or not) decoded in full


@FAST
@given(
    entry=entries(),
    url=st.one_of(
        st.text(max_size=40),
        st.from_regex(r"https?://[a-z]{1,12}\.test(:[0-9]{1,6})?/[!-~]{0,20}", fullmatch=True),
    ),
    name=st.one_of(
        st.none(), st.text(max_size=20), st.from_regex(r"[a-z][ -~]{0,20}", fullmatch=True)
    ),
    key=st.one_of(st.none(), st.binary(max_size=30), st.just(b"")),
    damage=st.one_of(st.none(), st.none(), st.tuples(st.integers(0, 600), st.binary(max_size=3))),
)
def test_any_record_after_a_model_is_what_decoding_it_in_full_gives(
    entry: dict[str, object],
    url: str,
    name: str | None,
    key: bytes | None,
    damage: tuple[int, bytes] | None,
) -> None:
    """The model is made from a valid definition; then a record of the same form whose
    url, name and key are anything (quotes, escapes, control characters, invalid UTF-8),
    and whose other fields may be damaged."""
    decoder = DefinitionDecoder()
    model_key, model_value = encode_definition(Definition(from_file(entry)))
    same_as_in_full(decoder, model_key, model_value)
    if url.startswith("http") and "://" in url:  # the model's scheme, most of the time
        url = f"{str(entry['url']).partition('://')[0]}://{url.partition('://')[2]}"
    rest = model_value.split(b'"name": ', 1)[1].split(b", ", 1)[1]
    named = b"null" if name is None else b'"' + name.encode("utf-8", "surrogatepass") + b'"'
    value = b'{"v": 1, "url": "' + url.encode("utf-8", "surrogatepass") + b'", "name": ' + named
    value += b", " + rest
    if damage is not None:
        at, inserted = damage
        at = min(at, len(value))
        value = value[:at] + inserted + value[at + len(inserted) :]
    same_as_in_full(decoder, key, value)
    # And under the key of the target it names, when it names one (the fast path).
    try:
        right_key = definition_from_json(value).target.id.encode()
    except BadDefinition:
        return
    same_as_in_full(decoder, right_key, value)


def test_a_duplicate_key_after_a_model_is_still_refused() -> None:
    decoder = DefinitionDecoder()
    key, value = many(1)[0]
    decoder(key, value)
    doubled = value[:-1] + b', "timeout": 5}'
    with pytest.raises(BadDefinition, match="written twice"):
        decoder(key, doubled)
    again = value.replace(b'"v": 1, ', b'"v": 1, "url": "http://other/", ')
    with pytest.raises(BadDefinition):
        decoder(key, again)


def test_credentials_are_read_each_time_never_taken_from_a_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SITE_TOKEN", "first")
    decoder = DefinitionDecoder()
    records = many(3, bearer_token_env="SITE_TOKEN")
    first = decoder(*records[0])
    monkeypatch.setenv("SITE_TOKEN", "second")
    later = decoder(*records[1])
    assert first is not None and later is not None
    assert first.target.http_auth is not None and later.target.http_auth is not None
    assert (first.target.http_auth.secret, later.target.http_auth.secret) == ("first", "second")
    assert decoder.fast == 0


def test_other_schemes_and_tombstones_are_decoded_in_full() -> None:
    decoder = DefinitionDecoder()
    tcp = [
        encode_definition(Definition(from_file({"url": f"tcp://example.com:{port}"})))
        for port in (80, 81)
    ]
    assert [decoder(*record) for record in tcp] == [decode_definition(*r) for r in tcp]
    assert decoder(b"some id", None) is None
    assert decoder.fast == 0


def test_the_models_are_bounded() -> None:
    decoder = DefinitionDecoder()
    for i in range(MAX_MODELS + 20):
        target = target_from_url(f"http://h/{i}", interval=10.0 + i, timeout=1.0)
        decoder(*encode_definition(Definition(target)))
    assert len(decoder._models) == MAX_MODELS
