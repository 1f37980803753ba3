"""Decoding many definitions of the targets topic fast: most differ only in url and name.

A fleet monitor decodes a definition per target: 100,000 of them through
`decode_definition` cost about 50 µs each (JSON with its duplicate-key check, each
field's parser, the target built and extended), on the GIL the check loop needs. But in
a large fleet most definitions are the same but for their `url` and `name`: the same
interval, timeout, method, headers, and so on. And every writer of the topic writes a
definition the same way (`encode_definition`): `{"v": 1, "url": "...", "name": ...,`
then the other fields, always in the same order and spacing.

So `DefinitionDecoder` reads a record in that form as its url, its name, and the rest
of its text (every other field, verbatim). The first record of each rest (and scheme) is
decoded in full, by `decode_definition`, and the target it made is kept as a model; a
later record with the same rest gets the model's values with its own url and id, both
checked by the fields' own parsers: the same target `decode_definition` makes, since the
rest's text is the same JSON, and nothing but the scheme and the id depends on the url
and the name. Strings with quotes, backslashes (JSON escapes) or control characters are
not read this way.

Anything else goes through `decode_definition` itself, which also gives every refusal
its message: a record in another form, over the size or nesting limits, not UTF-8, of a
scheme other than http(s), with a url, name or key the parsers refuse, or with
credentials or a client certificate (read from the environment and files when decoded:
never reused). Models are bounded (`MAX_MODELS`): past that, new shapes are decoded in
full.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from wac import limits
from wac.errors import ConfigError
from wac.targets.definition import Definition, decode_definition
from wac.targets.fields import TARGET_PARSERS
from wac.targets.target import HTTP_SCHEMES, Target, default_target_id

MAX_MODELS = 256
_TARGET_FIELDS = tuple(f.name for f in dataclasses.fields(Target))
_CANONICAL = re.compile(
    rb'\{"v": 1, "url": "([^"\\\x00-\x1f]*)", "name": (null|"[^"\\\x00-\x1f]*"), (.*)\}',
    re.DOTALL,
)
_parse_url = TARGET_PARSERS["url"]
_parse_name = TARGET_PARSERS["name"]
_set_field = object.__setattr__

Shape = tuple[str, bytes]  # the scheme, and the text of every field but v, url and name


class DefinitionDecoder:
    """`decode_definition(key, value, default_timeout=...)`, the same results, faster for
    definitions of a shape already seen."""

    def __init__(self, *, default_timeout: float = 1.0) -> None:
        self._default_timeout = default_timeout
        self._models: dict[Shape, tuple[dict[str, Any], bool]] = {}
        self.fast = 0  # definitions made from a model (for tests and the bench)

    def __call__(self, key: bytes | None, value: bytes | None) -> Definition | None:
        shape = None
        if key is not None and value is not None:
            found = _canonical(value)
            if found is not None:
                url, name, shape = found
                model = self._models.get(shape)
                if model is not None:
                    definition = self._from_model(key, url, name, model)
                    if definition is not None:
                        return definition
        definition = decode_definition(key, value, default_timeout=self._default_timeout)
        if definition is not None and shape is not None and shape not in self._models:
            self._remember(definition, shape)
        return definition

    def _from_model(
        self, key: bytes, url: str, name: str | None, model: tuple[dict[str, Any], bool]
    ) -> Definition | None:
        """The definition made from the model of its shape; None when it must be decoded
        in full (for the message of what its url, name or key has wrong)."""
        values, paused = model
        try:
            url = _parse_url(url, "")
            name = _parse_name(name, "")
        except ConfigError:
            return None
        target_id = name if name is not None else default_target_id(values["method"], url)
        encoded = target_id.encode()
        if len(encoded) > limits.MAX_TARGET_ID_BYTES or key != encoded:
            return None
        target = object.__new__(Target)
        # Set as __init__ sets them, one by one: the instance's dict shares its keys.
        for field_name, field_value in values.items():
            _set_field(target, field_name, field_value)
        _set_field(target, "url", url)
        _set_field(target, "id", target_id)
        self.fast += 1
        return Definition(target=target, paused=paused)

    def _remember(self, definition: Definition, shape: Shape) -> None:
        target = definition.target
        if len(self._models) >= MAX_MODELS or target.scheme not in HTTP_SCHEMES:
            return
        if target.http_auth is not None or target.client_cert is not None:
            return  # read from the environment and files: decoded in full each time
        values = {name: target.__dict__[name] for name in _TARGET_FIELDS}
        self._models[shape] = (values, definition.paused)


def _canonical(value: bytes) -> tuple[str, str | None, Shape] | None:
    """(url, name, shape) of a record in `encode_definition`'s form; None otherwise."""
    if len(value) > limits.MAX_DEFINITION_BYTES:
        return None
    if value.count(b"{") + value.count(b"[") > limits.MAX_DEFINITION_NESTING:
        return None
    match = _CANONICAL.fullmatch(value)
    if match is None:
        return None
    raw_url, raw_name, rest = match.groups()
    try:
        url = raw_url.decode()
        name = None if raw_name == b"null" else raw_name[1:-1].decode()
    except UnicodeDecodeError:
        return None
    return url, name, (url.partition(":")[0].lower(), rest)
