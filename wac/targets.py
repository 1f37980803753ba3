"""Targets: what to check, how often, and what counts as up.

Targets come from the command line (URLs) or from a YAML file (the format of the
README's targets section). Every mistake is a ConfigError naming the target and the
field. Every value is bounded (wac.limits), so that a target accepted here can always
be checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wac import limits
from wac.config import redact_userinfo
from wac.errors import ConfigError
from wac.patterns import BodyPattern, PatternError, compile_body_pattern
from wac.yaml_config import collector_paused, load_yaml_file, shown

DEFAULT_INTERVAL = 10.0
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$", re.IGNORECASE)
_SIZE_BYTES = {
    None: 1,
    "b": 1,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
}
_URL_NOT_PRINTABLE_ASCII = re.compile(r"[^\x21-\x7e]")
_SIMPLE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::(\d{1,5}))?(?:[/?#][\x21-\x7e]*)?")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
_HEADER_VALUE_BAD = re.compile(r"[^\t\x20-\x7e]")  # RFC 9110: VCHAR, SP and HTAB


@dataclass(frozen=True)
class Target:
    """One thing to check. `id` is the Kafka key and the `target` field of results."""

    url: str = field(repr=False)  # may hold credentials: publish `public_url`
    id: str
    interval: float = DEFAULT_INTERVAL
    timeout: float = 1.0
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    expect_status: frozenset[int] | None = None  # None: any 2xx or 3xx
    pattern: str | None = None
    verify_tls: bool = True
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    compiled_pattern: BodyPattern | None = field(default=None, compare=False, repr=False)
    # The options of the probe of the URL's scheme (e.g. `wac.probes.tcp.TcpOptions`), a
    # frozen structure its module defines and checks; None: that probe's defaults.
    probe_options: object | None = None

    @cached_property
    def public_url(self) -> str:
        """The URL without credentials: what results and logs show."""
        return redact_userinfo(self.url)

    @cached_property
    def scheme(self) -> str:
        """The URL's scheme, lower case: it picks the probe (`wac.probes.registry`)."""
        return self.url.partition(":")[0].lower()

    def status_expected(self, status: int) -> bool:
        if self.expect_status is None:
            return 200 <= status < 400
        return status in self.expect_status


def default_target_id(method: str, url: str) -> str:
    return f"{method} {_public(url)}"


def _public(url: str) -> str:
    return redact_userinfo(url) if "@" in url else url  # most URLs: no parsing at all


def _safe_url(url: str) -> str:
    """The URL for a message: never its credentials, even when it does not parse."""
    public = _public(url)
    if public == url and "@" in url:
        scheme, _, rest = url.partition("://")
        public = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return shown(public)


def check_url(url: str, where: str) -> str:
    """The URL if it is an absolute http(s) URL with a host; a ConfigError otherwise."""
    if len(url) > limits.MAX_URL_CHARS:
        raise ConfigError(
            f"{where}: url is {len(url)} characters long; at most {limits.MAX_URL_CHARS}"
        )
    if bad := _URL_NOT_PRINTABLE_ASCII.search(url):
        char = bad.group()
        if char.isspace():
            problem = "contains white space; percent-encode it"
        elif char.isprintable():
            problem = (
                f"contains the non-ASCII character {char!r}: write the host name in its "
                "xn-- form and percent-encode the rest"
            )
        else:
            problem = f"contains the control character {char!r}; remove it"
        raise ConfigError(f"{where}: url {_safe_url(url)} {problem}")
    if (simple := _SIMPLE_URL.fullmatch(url)) and int(simple.group(1) or 0) <= 65535:
        return url  # the common form, checked without urlsplit's cost
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise ConfigError(f"{where}: url {_safe_url(url)} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(
            f"{where}: url {_safe_url(url)} must start with http:// or https:// "
            "(e.g. https://example.com/)"
        )
    if not parts.hostname:
        raise ConfigError(f"{where}: url {_safe_url(url)} has no host name")
    return url


def check_seconds(
    seconds: float, where: str, field_name: str, lowest: float, highest: float
) -> float:
    """`seconds` if within [lowest, highest] (and finite); a ConfigError saying the range."""
    if not lowest <= seconds <= highest:  # also refuses NaN
        raise ConfigError(
            f"{where}: {field_name} must be between {limits.describe_seconds(lowest)} and "
            f"{limits.describe_seconds(highest)}, got {shown(seconds)}"
        )
    return seconds


def parse_duration(
    raw: object, where: str, field_name: str, *, maximum: float = limits.MAX_CONFIG_DURATION_S
) -> float:
    """`250ms`, `10s`, `5m`, `1h` or a bare number of seconds; positive, at most `maximum`."""
    if isinstance(raw, bool):
        raise ConfigError(f"{where}: {field_name} must be a duration such as 10s, not {raw!r}")
    if isinstance(raw, int | float):
        try:
            seconds = float(raw)
        except OverflowError:  # an integer of hundreds of digits
            seconds = float("inf")
    elif isinstance(raw, str) and (m := _DURATION.match(raw)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ConfigError(
            f"{where}: {field_name} {shown(raw)} is not a duration: use e.g. 500ms, 10s, 5m, 1h"
        )
    if not seconds > 0:
        raise ConfigError(f"{where}: {field_name} must be positive, got {shown(raw)}")
    if not seconds <= maximum:
        raise ConfigError(
            f"{where}: {field_name} {shown(raw)} is too long: at most "
            f"{limits.describe_seconds(maximum)}"
        )
    return seconds


def parse_size(raw: object, where: str, field_name: str, *, maximum: int) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        size = raw
    elif isinstance(raw, str) and (m := _SIZE.match(raw)):
        digits = m.group(1)
        unit = _SIZE_BYTES[m.group(2).lower() if m.group(2) else None]
        size = int(digits) * unit if len(digits) <= 20 else maximum + 1
    else:
        raise ConfigError(
            f"{where}: {field_name} {shown(raw)} is not a size: use e.g. 65536 or 1MiB"
        )
    if size <= 0:
        raise ConfigError(f"{where}: {field_name} must be positive, got {shown(raw)}")
    if size > maximum:
        raise ConfigError(
            f"{where}: {field_name} {shown(raw)} is too large: at most {maximum} bytes "
            f"({maximum // 1024**2} MiB)"
        )
    return size


def compile_pattern(pattern: object, where: str) -> BodyPattern:
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(
            f"{where}: pattern must be a non-empty string (an RE2 regular expression)"
        )
    if len(pattern) > limits.MAX_PATTERN_CHARS:
        raise ConfigError(
            f"{where}: pattern is {len(pattern)} characters long; at most "
            f"{limits.MAX_PATTERN_CHARS}"
        )
    try:
        return compile_body_pattern(pattern)
    except PatternError as exc:
        raise ConfigError(
            f"{where}: pattern {shown(pattern)} is not a valid regex for RE2: {exc}"
        ) from None


def target_from_url(
    url: str, *, interval: float, timeout: float, pattern: str | None = None
) -> Target:
    """A target given on the command line."""
    where = f"URL {_safe_url(url)}"
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


_TOP_KEYS = {"defaults", "targets", "alerts", "status_pages"}


def load_targets_file(path: Path, *, default_timeout: float) -> list[Target]:
    """Read and check a targets file; raises ConfigError naming the target and field."""
    with collector_paused():
        document = load_yaml_file(path)
        return parse_targets_document(document, source=str(path), default_timeout=default_timeout)


def parse_targets_document(
    document: object, *, source: str, default_timeout: float
) -> list[Target]:
    if not isinstance(document, Mapping):
        raise ConfigError(f"{source}: expected a mapping with a `targets:` list at the top level")
    reject_unknown_keys(document, _TOP_KEYS, source)
    defaults = document.get("defaults")
    if defaults is None:
        defaults = {}
    if not isinstance(defaults, Mapping):
        raise ConfigError(f"{source}: defaults must be a mapping")
    base = dict(_FIELD_DEFAULTS, timeout=default_timeout)
    base.update(_parse_fields(defaults, _DEFAULT_PARSERS, f"{source}: defaults"))
    entries = document.get("targets")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{source}: `targets:` must be a non-empty list of targets")
    targets: list[Target] = []
    seen: dict[str, str] = {}
    for index, entry in enumerate(entries, start=1):
        where = f"{source}: target #{index}"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: expected a mapping with at least `url:`")
        name, url = entry.get("name"), entry.get("url")
        if isinstance(name, str):
            where = f"{source}: target {shown(name)}"
        elif isinstance(url, str):
            where = f"{source}: target #{index} ({_safe_url(url)})"
        target = _make_target({**base, **_parse_fields(entry, _TARGET_PARSERS, where)}, where)
        if target.id in seen:
            raise ConfigError(
                f"{where}: duplicate target id {shown(target.id)} (also {seen[target.id]}); "
                "give each a distinct `name:`"
            )
        seen[target.id] = where
        targets.append(target)
    return targets


def reject_unknown_keys(mapping: Mapping[Any, Any], allowed: set[str], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {shown(key)}; allowed keys: {', '.join(sorted(allowed))}"
            )


def _parse_fields(
    entry: Mapping[Any, Any], parsers: Mapping[str, Callable[[object, str], Any]], where: str
) -> dict[str, Any]:
    fields = {}
    for key, raw in entry.items():
        parse = parsers.get(key)
        if parse is None:
            reject_unknown_keys(entry, set(parsers), where)
        else:
            fields[key] = parse(raw, where)
    return fields


def _make_target(fields: Mapping[str, Any], where: str) -> Target:
    url = fields.get("url")
    if url is None:
        raise ConfigError(f"{where}: `url` is required and must be a string")
    method = fields["method"]
    name = fields.get("name")
    pattern: BodyPattern | None = fields.get("pattern")
    return Target(
        url=url,
        id=check_target_id(name if name is not None else default_target_id(method, url), where),
        interval=fields["interval"],
        timeout=fields["timeout"],
        method=method,
        headers=fields["headers"],
        expect_status=fields["expect_status"],
        pattern=pattern.text if pattern is not None else None,
        verify_tls=fields["verify_tls"],
        max_body_bytes=fields["max_body_size"],
        max_redirects=fields["max_redirects"],
        compiled_pattern=pattern,
    )


def check_target_id(target_id: str, where: str) -> str:
    """The id, if the store can keep it (its UTF-8 form is the Kafka key and an index entry)."""
    size = len(target_id.encode())
    if size > limits.MAX_TARGET_ID_BYTES:
        raise ConfigError(
            f"{where}: the target id is {size} bytes long (UTF-8), over the limit of "
            f"{limits.MAX_TARGET_ID_BYTES} that the store keeps: give the target a shorter `name:`"
        )
    return target_id


def _parse_url(raw: object, where: str) -> str:
    if not isinstance(raw, str):
        raise ConfigError(f"{where}: `url` is required and must be a string")
    return check_url(raw, where)


def _parse_name(raw: object, where: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{where}: name must be a non-empty string")
    name = raw.strip()
    if len(name) > limits.MAX_NAME_CHARS:
        raise ConfigError(
            f"{where}: name is {len(name)} characters long; at most {limits.MAX_NAME_CHARS}"
        )
    if not name.isprintable():
        char = next(c for c in name if not c.isprintable())
        raise ConfigError(
            f"{where}: name contains the character {char!r}, which cannot be shown; remove it"
        )
    return name


def _parse_method(raw: object, where: str) -> str:
    if not isinstance(raw, str) or raw.upper() not in HTTP_METHODS:
        raise ConfigError(f"{where}: method {shown(raw)} is not one of {', '.join(HTTP_METHODS)}")
    return raw.upper()


def _parse_interval(raw: object, where: str) -> float:
    seconds = parse_duration(raw, where, "interval", maximum=limits.MAX_INTERVAL_S)
    return check_seconds(seconds, where, "interval", limits.MIN_INTERVAL_S, limits.MAX_INTERVAL_S)


def _parse_timeout(raw: object, where: str) -> float:
    seconds = parse_duration(raw, where, "timeout", maximum=limits.MAX_TIMEOUT_S)
    return check_seconds(seconds, where, "timeout", limits.MIN_TIMEOUT_S, limits.MAX_TIMEOUT_S)


def _parse_headers(raw: object, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: headers must be a mapping of name: value")
    headers = []
    for key, value in raw.items():
        if not isinstance(key, str) or not _HEADER_NAME.fullmatch(key):
            raise ConfigError(
                f"{where}: headers: {shown(key)} is not a valid header name "
                "(ASCII letters, digits and !#$%&'*+-.^_`|~)"
            )
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{where}: headers: {key} must have a string value")
        text = str(value)
        if len(text) > limits.MAX_HEADER_VALUE_CHARS:
            raise ConfigError(
                f"{where}: headers: {key} value is {len(text)} characters long; at most "
                f"{limits.MAX_HEADER_VALUE_CHARS}"
            )
        if bad := _HEADER_VALUE_BAD.search(text):
            char = bad.group()
            problem = (
                "must be on one line"
                if char in "\r\n"
                else f"contains the non-ASCII character {char!r}; header values must be ASCII "
                "(percent-encode or base64 it)"
                if char.isprintable()
                else f"contains the control character {char!r}; remove it"
            )
            raise ConfigError(f"{where}: headers: {key} value {problem}")
        headers.append((key, text))
    return tuple(headers)


def _parse_statuses(raw: object, where: str) -> frozenset[int] | None:
    if raw is None:
        return None
    values: Iterable[object] = raw if isinstance(raw, list) else [raw]
    statuses = set()
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
            raise ConfigError(
                f"{where}: expect_status {shown(value)} is not an HTTP status (100-599); "
                "give a number or a list such as [200, 301]"
            )
        statuses.add(value)
    if not statuses:
        raise ConfigError(f"{where}: expect_status must list at least one status")
    return frozenset(statuses)


def _parse_pattern(raw: object, where: str) -> BodyPattern | None:
    return None if raw is None else compile_pattern(raw, where)


def _parse_verify_tls(raw: object, where: str) -> bool:
    if not isinstance(raw, bool):
        raise ConfigError(f"{where}: verify_tls must be true or false")
    return raw


def _parse_max_body_size(raw: object, where: str) -> int:
    return parse_size(raw, where, "max_body_size", maximum=limits.MAX_BODY_BYTES)


def _parse_max_redirects(raw: object, where: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= limits.MAX_REDIRECTS:
        raise ConfigError(
            f"{where}: max_redirects must be a whole number from 0 to {limits.MAX_REDIRECTS}, "
            f"got {shown(raw)}"
        )
    return raw


_TARGET_PARSERS: dict[str, Callable[[object, str], Any]] = {
    "url": _parse_url,
    "name": _parse_name,
    "interval": _parse_interval,
    "timeout": _parse_timeout,
    "method": _parse_method,
    "headers": _parse_headers,
    "expect_status": _parse_statuses,
    "pattern": _parse_pattern,
    "verify_tls": _parse_verify_tls,
    "max_body_size": _parse_max_body_size,
    "max_redirects": _parse_max_redirects,
}
_DEFAULT_PARSERS = {
    key: parse for key, parse in _TARGET_PARSERS.items() if key not in ("url", "name", "pattern")
}
_FIELD_DEFAULTS: dict[str, Any] = {
    "interval": DEFAULT_INTERVAL,
    "method": "GET",
    "headers": (),
    "expect_status": None,
    "verify_tls": True,
    "max_body_size": DEFAULT_MAX_BODY_BYTES,
    "max_redirects": DEFAULT_MAX_REDIRECTS,
}
