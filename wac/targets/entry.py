"""A target from its entry: a targets-file mapping, a JSON value, or a URL; and back.

`target_from_entry` is the one way from the fields as written to a `Target`: the targets
file's entries (wac.targets.document) and a target's JSON value (`target_from_json`)
both go through it, so both are checked by the same field table with the same messages.
`target_to_json` gives the JSON form back: every field, durations in seconds, sizes in
bytes; reading it gives the same target.

The JSON form holds the URL as written, credentials included: it is a definition for a
monitor, not something to log.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from wac import limits
from wac.errors import ConfigError
from wac.patterns import BodyPattern
from wac.settings.durations import check_seconds
from wac.targets.fields import (
    FIELD_BY_KEY,
    FIELDS,
    REQUIRED,
    TARGET_PARSERS,
    TIMEOUT_SETTING,
    check_target_id,
    check_url,
    compile_pattern,
    field_defaults,
)
from wac.targets.probe_options import extend_target
from wac.targets.target import HTTP_SCHEMES, Target, default_target_id, safe_url
from wac.yaml_config import reject_unknown_keys, shown

ParserTable = Mapping[str, Any]


def entry_where(entry: Mapping[Any, Any], prefix: str, index: int | None = None) -> str:
    """How messages name an entry: by its name, else its number and URL."""
    number = f" #{index}" if index is not None else ""
    name, url = entry.get("name"), entry.get("url")
    if isinstance(name, str):
        return f"{prefix} {shown(name)}"
    if isinstance(url, str):
        return f"{prefix}{number} ({safe_url(url)})"
    return f"{prefix}{number}"


def parse_fields(entry: Mapping[Any, Any], parsers: ParserTable, where: str) -> dict[str, Any]:
    """Each field of `entry` through its parser; an unknown key is an error, and a field
    given as null is left out."""
    fields = {}
    for key, raw in entry.items():
        parse = parsers.get(key)
        if parse is None:
            reject_unknown_keys(entry, set(parsers), where)
        elif raw is not None:
            fields[key] = parse(raw, where)
    return fields


def target_from_entry(entry: Mapping[Any, Any], where: str, base: Mapping[str, Any]) -> Target:
    """The target of an entry; `base` holds the value of every field it leaves out."""
    return make_target(base, where, parse_fields(entry, TARGET_PARSERS, where))


_TARGET_FIELDS = tuple(f.name for f in dataclasses.fields(Target))
_set_field = object.__setattr__


def url_only_target(
    entry: Mapping[Any, Any],
    where: Callable[[], str],
    base: Mapping[str, Any],
    made: dict[str, dict[str, Any]],
) -> Target | None:
    """The target of an entry that is only an http(s) `url:` (most entries of a long
    file), made from the first one of its scheme (`made`, per file: its targets come
    from the same `base`) with its own URL and id: the same target `target_from_entry`
    makes (only the URL and the id depend on such an entry), in a fraction of the time.
    None for any other entry. `where` names the entry, in a message only."""
    if len(entry) != 1:
        return None
    url = entry.get("url")
    if type(url) is not str:
        return None
    scheme = url.partition(":")[0].lower()
    if scheme not in HTTP_SCHEMES:
        return None
    model = made.get(scheme)
    if model is None:  # the first of its scheme: made and checked in full
        first = target_from_entry(entry, where(), base)
        made[scheme] = {name: first.__dict__[name] for name in _TARGET_FIELDS}
        return first
    try:
        url = check_url(url, "")
        target_id = check_target_id(default_target_id(model["method"], url), "")
    except ConfigError:  # again, for the message that names the entry
        url = check_url(url, where())
        target_id = check_target_id(default_target_id(model["method"], url), where())
    target = object.__new__(Target)
    # Frozen: set as __init__ sets them, one by one, so that the instance's dict shares
    # its keys with the other targets' (a copied dict would cost 750 bytes more a target).
    for name, value in model.items():
        _set_field(target, name, value)
    _set_field(target, "url", url)
    _set_field(target, "id", target_id)
    return target


def make_target(
    fields: Mapping[str, Any], where: str, given: Mapping[str, Any] | None = None
) -> Target:
    """The target of `fields` (every field's value) and `given` (the entry's own fields:
    one that does not apply to the URL's scheme is refused; a value of `fields` that does
    not apply is its field's default)."""
    url = (given or {}).get("url", fields.get("url"))
    if url is None:
        raise ConfigError(f"{where}: `url` is required and must be a string")
    scheme = url.partition(":")[0].lower()
    values = _values_for(scheme, fields, given or {}, where)
    method = values["method"]
    name = values.get("name")
    pattern: BodyPattern | None = values.get("pattern")
    target = Target(
        url=url,
        id=check_target_id(name if name is not None else default_target_id(method, url), where),
        interval=values["interval"],
        timeout=values["timeout"],
        method=method,
        headers=values["headers"],
        expect_status=values["expect_status"],
        pattern=pattern.text if pattern is not None else None,
        verify_tls=values["verify_tls"],
        max_body_bytes=values["max_body_size"],
        max_redirects=values["max_redirects"],
        compiled_pattern=pattern,
        assertions=values["assert"],
    )
    return extend_target(target, values, where)


def _values_for(
    scheme: str, fields: Mapping[str, Any], given: Mapping[str, Any], where: str
) -> dict[str, Any]:
    for key in given:
        field = FIELD_BY_KEY[key]
        if not field.applies_to(scheme):
            raise ConfigError(
                f"{where}: {key} applies to {describe_schemes(field.schemes)} targets, "
                f"not to {scheme}:// ones; remove it"
            )
    values = dict(fields)
    values.update(_defaults_not_for(scheme))
    values.update(given)
    return values


@functools.cache
def _defaults_not_for(scheme: str) -> dict[str, Any]:
    """The defaults of the fields that do not apply to `scheme` (once per scheme: a file
    of 100,000 targets asks 100,000 times)."""
    return {
        field.key: field.default
        for field in FIELDS
        if not field.applies_to(scheme) and field.default not in (REQUIRED, TIMEOUT_SETTING)
    }


def describe_schemes(schemes: frozenset[str] | None) -> str:
    return ", ".join(f"{s}://" for s in sorted(schemes or ()))


def target_to_json(target: Target) -> dict[str, object]:
    """The target's JSON form: every field of an entry, as `target_from_json` reads it
    (null for the fields of other schemes)."""
    scheme = target.scheme
    return {f.key: f.to_json(target) if f.applies_to(scheme) else None for f in FIELDS}


def target_from_json(
    value: bytes | str | Mapping[str, Any], where: str = "target", *, default_timeout: float = 1.0
) -> Target:
    """The target of a JSON value (bytes, text or an already decoded object), checked as a
    targets-file entry is; a one-line ConfigError naming the field otherwise."""
    entry = value if isinstance(value, Mapping) else decode_json_object(value, where)
    return target_from_entry(entry, entry_where(entry, where), field_defaults(default_timeout))


def decode_json_object(value: bytes | str, where: str) -> dict[str, Any]:
    """Strict JSON (no NaN, no key written twice) that must be an object."""
    try:
        decoded = json.loads(
            value, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant
        )
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON: {exc.msg} at character {exc.pos}") from None
    except ValueError as exc:  # a key twice, NaN, a number too long for Python
        raise ConfigError(f"{where}: not valid JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid JSON: nested too deep") from None
    if not isinstance(decoded, dict):
        raise ConfigError(f"{where}: expected a JSON object with at least `url`")
    return decoded


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = dict(pairs)
    if len(found) == len(pairs):  # (the usual case, without a loop in Python)
        return found
    found = {}
    for key, item in pairs:
        if key in found:
            raise ValueError(f"the key {shown(key)} is written twice in one object; keep one")
        found[key] = item
    return found


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def target_from_url(
    url: str, *, interval: float, timeout: float, pattern: str | None = None
) -> Target:
    """A target given on the command line."""
    where = f"URL {safe_url(url)}"
    check_url(url, where)
    check_seconds(interval, where, "interval", limits.MIN_INTERVAL_S, limits.MAX_INTERVAL_S)
    check_seconds(timeout, where, "timeout", limits.MIN_TIMEOUT_S, limits.MAX_TIMEOUT_S)
    compiled = compile_pattern(pattern, where) if pattern is not None else None
    return Target(
        url=url,
        id=check_target_id(default_target_id("GET", url), where),
        interval=interval,
        timeout=timeout,
        pattern=pattern,
        compiled_pattern=compiled,
    )
