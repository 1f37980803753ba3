"""A target's definition in the targets topic: the wire form of a managed target.

The compacted targets topic (`KAFKA_TARGETS_TOPIC`) holds one record per target:

- key: the target id, UTF-8;
- value: JSON version 1, the fields of a targets-file entry as `target_to_json` writes
  them (every field, durations in seconds, sizes in bytes), plus `paused` (a paused
  target stays defined but is not checked) and `"v": 1`;
- no value (a tombstone): the target is deleted.

`decode_definition` checks a record exactly as the targets file checks an entry (the
same field table, the same messages), after bounding its size and nesting, and refuses a
key that is not the id of the value's target. Unknown fields are refused, as in the
file: a field added later comes with version 2. Everything refused is a `BadDefinition`
whose one-line message names the field and how to fix it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from wac import limits
from wac.assertions.conditions import MAX_CONDITIONS
from wac.errors import ConfigError
from wac.result import nesting_depth
from wac.targets.entry import decode_json_object, entry_where, target_from_json, target_to_json
from wac.targets.options import TLS_VERSION_NAMES
from wac.targets.target import Target
from wac.yaml_config import shown

VERSION = 1
# Keys a definition holds beyond a targets-file entry's fields.
ENVELOPE_KEYS = ("v", "paused")


class BadDefinition(ConfigError):
    """A record of the targets topic that is not a valid definition; the message says why."""


@dataclass(frozen=True)
class Definition:
    """A managed target: what to check, and whether it is paused."""

    target: Target
    paused: bool = False

    @property
    def id(self) -> str:
        return self.target.id


def definition_to_json(definition: Definition) -> dict[str, object]:
    """The JSON object of a definition (version 1)."""
    return {"v": VERSION, **target_to_json(definition.target), "paused": definition.paused}


def encode_definition(definition: Definition) -> tuple[bytes, bytes]:
    """(key, value) of the definition's record in the targets topic."""
    value = json.dumps(definition_to_json(definition), ensure_ascii=False)
    return definition.target.id.encode(), value.encode()


def decode_definition(
    key: bytes | None, value: bytes | None, *, default_timeout: float = 1.0
) -> Definition | None:
    """The definition of a record of the targets topic; None for a tombstone (deleted).

    Raises BadDefinition, naming the field, for anything else than a valid version 1
    definition whose key is its target's id.
    """
    if key is None:
        raise BadDefinition("definition without a key: the key must be the target id (UTF-8)")
    try:
        key_text = key.decode()
    except UnicodeDecodeError as exc:
        raise BadDefinition(
            f"definition key is not UTF-8 (byte {exc.start}): the key must be the target id"
        ) from None
    if value is None:
        return None
    return definition_from_json(value, key=key_text, default_timeout=default_timeout)


def definition_from_json(
    value: bytes | str | Mapping[str, Any],
    where: str = "definition",
    *,
    key: str | None = None,
    default_timeout: float = 1.0,
) -> Definition:
    """A definition from its JSON (bytes, text or decoded object), checked; `key`, when
    given, must be its target's id. BadDefinition naming the field otherwise."""
    if not isinstance(value, Mapping):
        value = _bounded_object(value, where)
    fields = dict(value)
    named = entry_where(fields, where)
    version = fields.pop("v", None)
    if type(version) is not int or version != VERSION:
        raise BadDefinition(
            f"{named}: v must be {VERSION} (the definition's version), got {shown(version)}"
        )
    paused = fields.pop("paused", False)
    if not isinstance(paused, bool):
        raise BadDefinition(f"{named}: paused must be true or false, got {shown(paused)}")
    try:
        target = target_from_json(fields, where, default_timeout=default_timeout)
    except ConfigError as exc:
        raise BadDefinition(str(exc)) from None
    if key is not None and key != target.id:
        raise BadDefinition(
            f"{named}: the key {shown(key[:200])} is not the id of the definition's target "
            f"({shown(target.id[:200])}): publish it under its id"
        )
    return Definition(target=target, paused=paused)


def _bounded_object(value: bytes | str, where: str) -> dict[str, Any]:
    raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    if len(raw) > limits.MAX_DEFINITION_BYTES:
        raise BadDefinition(
            f"{where}: {len(raw)} bytes, over the limit of {limits.MAX_DEFINITION_BYTES} "
            "for a definition"
        )
    if raw.count(b"{") + raw.count(b"[") > limits.MAX_DEFINITION_NESTING:
        depth = nesting_depth(raw, stop_above=limits.MAX_DEFINITION_NESTING)
        if depth > limits.MAX_DEFINITION_NESTING:
            raise BadDefinition(
                f"{where}: nested more than {limits.MAX_DEFINITION_NESTING} levels deep "
                "(a definition nests 2)"
            )
    try:
        return decode_json_object(raw, where)
    except ConfigError as exc:
        raise BadDefinition(str(exc)) from None


def definition_json_schema() -> dict[str, Any]:
    """The JSON Schema of a definition's value, version 1 (`wac schema --targets`)."""
    string = {"type": "string"}
    seconds = {"type": "number", "description": "seconds"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "wac target definition, version 1",
        "description": (
            "The value of a record of the targets topic, whose key is the target id "
            "(`name`, else `METHOD url` without credentials); a record without a value "
            "deletes the target. Fields are those of a targets-file entry."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": ["v", "url"],
        "properties": {
            "v": {"const": VERSION},
            "paused": {"type": "boolean", "default": False},
            "url": {
                **string,
                "maxLength": limits.MAX_URL_CHARS,
                "description": (
                    "the URL; its scheme picks the probe: http, https, tcp, tls, dns, icmp "
                    "or push; may hold credentials"
                ),
            },
            "name": {
                "type": ["string", "null"],
                "maxLength": limits.MAX_NAME_CHARS,
                "description": "the target id when given",
            },
            "interval": {
                **seconds,
                "minimum": limits.MIN_INTERVAL_S,
                "maximum": limits.MAX_INTERVAL_S,
                "default": 10,
            },
            "timeout": {
                **seconds,
                "minimum": limits.MIN_TIMEOUT_S,
                "maximum": limits.MAX_TIMEOUT_S,
            },
            "method": {"enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]},
            "headers": {
                "type": "object",
                "additionalProperties": {"type": "string"},
            },
            "expect_status": {
                "type": ["array", "null"],
                "items": {"type": "integer", "minimum": 100, "maximum": 599},
                "minItems": 1,
                "description": "null: any 2xx or 3xx",
            },
            "pattern": {
                "type": ["string", "null"],
                "maxLength": limits.MAX_PATTERN_CHARS,
                "description": "RE2 regular expression the body must match",
            },
            "verify_tls": {"type": "boolean", "default": True},
            "max_body_size": {
                "type": "integer",
                "minimum": 1,
                "maximum": limits.MAX_BODY_BYTES,
                "description": "bytes",
            },
            "max_redirects": {"type": "integer", "minimum": 0, "maximum": limits.MAX_REDIRECTS},
            **_probe_fields_schema(),
        },
    }


def _probe_fields_schema() -> dict[str, Any]:
    """The fields beyond HTTP's first ones (wac.targets.probe_fields); null: not given.
    A field applies to the probes its description names and is refused on the others."""

    def maybe(schema: dict[str, Any], description: str) -> dict[str, Any]:
        kinds = schema.get("type")
        if isinstance(kinds, str):
            return {**schema, "type": [kinds, "null"], "description": description}
        if "enum" in schema:
            return {**schema, "enum": [*schema["enum"], None], "description": description}
        return {"anyOf": [schema, {"type": "null"}], "description": description}

    env_name = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,127}$"}
    return {
        "body": maybe({"type": "string"}, "http(s): the request body, at most 1 MiB as UTF-8"),
        "json": maybe({}, "http(s): JSON data sent as the body (application/json)"),
        "basic_auth_env": maybe(
            env_name, "http(s): the environment variable holding `user:password`"
        ),
        "bearer_token_env": maybe(
            env_name, "http(s): the environment variable holding a bearer token"
        ),
        "client_cert": maybe({"type": "string"}, "http(s): client certificate file (PEM)"),
        "client_key": maybe({"type": "string"}, "http(s): its private key file (PEM)"),
        "http_version": maybe({"enum": ["1.1", "2"]}, "http(s): the HTTP version required"),
        "ip_version": maybe({"enum": [4, 6]}, "every probe but push: the address family"),
        "send": maybe(
            {"type": "string", "minLength": 1}, "tcp: text sent once connected (64 KiB at most)"
        ),
        "expect": maybe(
            {"type": "string", "maxLength": limits.MAX_PATTERN_CHARS},
            "tcp: RE2 pattern over the reply; dns: over the answers",
        ),
        "tls": maybe({"type": "boolean"}, "tcp: a TLS handshake once connected"),
        "min_tls_version": maybe(
            {"enum": list(TLS_VERSION_NAMES)}, "tls: the lowest protocol version accepted"
        ),
        "count": maybe(
            {"type": "integer", "minimum": 1, "maximum": limits.MAX_ICMP_COUNT},
            "icmp: echo requests per check",
        ),
        "grace": maybe(
            {"type": "number", "minimum": 0, "maximum": limits.MAX_INTERVAL_S},
            "push: seconds a ping may be late before the period is missed",
        ),
        "token_env": maybe(env_name, "push: the environment variable holding the token"),
        "assert": maybe(
            {"type": "array", "items": {"type": "string"}, "maxItems": MAX_CONDITIONS},
            "every probe but push: conditions that must all hold, e.g. `[STATUS] == 200`",
        ),
    }


# --- what reads show: a definition without its secrets -------------------------------------

MASK = "***"
_SECRET_HEADER_WORDS = ("auth", "cookie", "token", "secret", "key", "password", "session")


def secret_header(name: str) -> bool:
    """Headers whose values reads never show (Authorization, Cookie, X-Api-Key, ...)."""
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_HEADER_WORDS)


def masked_json(definition: Definition) -> dict[str, object]:
    """The definition as reads show it (`wac targets list/get`, the API): the URL without
    its credentials and secret header values as `***`. A write that gives `***` back keeps
    the stored secret (`unmask`)."""
    value = definition_to_json(definition)
    value["url"] = definition.target.public_url
    value["headers"] = {
        name: MASK if secret_header(name) else text for name, text in definition.target.headers
    }
    return value


def unmask(
    value: Mapping[str, Any], current: Definition | None, where: str = "definition"
) -> dict[str, Any]:
    """`value` with the `***` that reads show put back from `current`, the stored
    definition; BadDefinition naming the field when there is no secret to keep."""
    found = dict(value)
    url = found.get("url")
    if isinstance(url, str) and f"://{MASK}@" in url:
        stored = urlsplit(current.target.url).netloc if current is not None else ""
        userinfo = stored.rpartition("@")[0]
        if not userinfo:
            raise BadDefinition(
                f"{where}: url holds {MASK} as its credentials but no credentials are stored: "
                "write them out (https://USER:PASSWORD@host/) or leave them out"
            )
        found["url"] = url.replace(f"://{MASK}@", f"://{userinfo}@", 1)
    headers = found.get("headers")
    if isinstance(headers, Mapping):
        stored_headers = dict(current.target.headers) if current is not None else {}
        restored = {}
        for name, text in headers.items():
            if text == MASK and secret_header(str(name)):
                if name not in stored_headers:
                    raise BadDefinition(
                        f"{where}: headers: {name} is {MASK} but no value is stored: give its value"
                    )
                text = stored_headers[name]
            restored[name] = text
        found["headers"] = restored
    return found
