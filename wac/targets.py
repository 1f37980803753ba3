"""Targets: what to check, how often, and what counts as up.

Targets come from the command line (URLs) or from a YAML file (DESIGN.md's
format). Every mistake is a ConfigError naming the target and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from wac.config import redact_userinfo
from wac.errors import ConfigError

# libyaml's C parser when PyYAML has it: 20,000 targets load in a second, not ten.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

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
    compiled_pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @cached_property
    def public_url(self) -> str:
        """The URL without credentials: what results and logs show."""
        return redact_userinfo(self.url)

    def status_expected(self, status: int) -> bool:
        if self.expect_status is None:
            return 200 <= status < 400
        return status in self.expect_status


def default_target_id(method: str, url: str) -> str:
    return f"{method} {redact_userinfo(url)}"


def check_url(url: str, where: str) -> str:
    """The URL if it is an absolute http(s) URL with a host; a ConfigError otherwise."""
    shown = redact_userinfo(url)
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise ConfigError(f"{where}: url {shown!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(
            f"{where}: url {shown!r} must start with http:// or https:// (e.g. https://example.com/)"
        )
    if not parts.hostname:
        raise ConfigError(f"{where}: url {shown!r} has no host name")
    if any(c.isspace() for c in url):
        raise ConfigError(f"{where}: url {shown!r} contains white space; percent-encode it")
    return url


def parse_duration(raw: object, where: str, field_name: str) -> float:
    """`250ms`, `10s`, `5m`, `1h` or a bare number of seconds; must be positive."""
    if isinstance(raw, bool):
        raise ConfigError(f"{where}: {field_name} must be a duration such as 10s, not {raw!r}")
    if isinstance(raw, int | float):
        seconds = float(raw)
    elif isinstance(raw, str) and (m := _DURATION.match(raw)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise ConfigError(
            f"{where}: {field_name} {raw!r} is not a duration: use e.g. 500ms, 10s, 5m, 1h"
        )
    if not seconds > 0:
        raise ConfigError(f"{where}: {field_name} must be positive, got {raw!r}")
    return seconds


def parse_size(raw: object, where: str, field_name: str) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        size = raw
    elif isinstance(raw, str) and (m := _SIZE.match(raw)):
        size = int(m.group(1)) * _SIZE_BYTES[m.group(2).lower() if m.group(2) else None]
    else:
        raise ConfigError(f"{where}: {field_name} {raw!r} is not a size: use e.g. 65536 or 1MiB")
    if size <= 0:
        raise ConfigError(f"{where}: {field_name} must be positive, got {raw!r}")
    return size


def compile_pattern(pattern: object, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{where}: pattern must be a non-empty string (a regular expression)")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{where}: pattern {pattern!r} is not a valid regex: {exc}") from None


def target_from_url(
    url: str, *, interval: float, timeout: float, pattern: str | None = None
) -> Target:
    """A target given on the command line."""
    where = f"URL {redact_userinfo(url)!r}"
    check_url(url, where)
    compiled = compile_pattern(pattern, where) if pattern is not None else None
    return Target(
        url=url,
        id=default_target_id("GET", url),
        interval=interval,
        timeout=timeout,
        pattern=pattern,
        compiled_pattern=compiled,
    )


_TARGET_KEYS = {
    "url",
    "name",
    "interval",
    "timeout",
    "method",
    "headers",
    "expect_status",
    "pattern",
    "verify_tls",
    "max_body_size",
    "max_redirects",
}
_DEFAULT_KEYS = _TARGET_KEYS - {"url", "name", "pattern"}
_TOP_KEYS = {"defaults", "targets", "alerts"}


def load_targets_file(path: Path, *, default_timeout: float) -> list[Target]:
    """Read and check a targets file; raises ConfigError naming the target and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"targets file {str(path)!r}: cannot read it ({exc.strerror})") from None
    try:
        document = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"targets file {str(path)!r}: not valid YAML: {exc}") from None
    return parse_targets_document(document, source=str(path), default_timeout=default_timeout)


def parse_targets_document(
    document: object, *, source: str, default_timeout: float
) -> list[Target]:
    if not isinstance(document, Mapping):
        raise ConfigError(f"{source}: expected a mapping with a `targets:` list at the top level")
    reject_unknown_keys(document, _TOP_KEYS, source)
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise ConfigError(f"{source}: defaults must be a mapping")
    reject_unknown_keys(defaults, _DEFAULT_KEYS, f"{source}: defaults")
    entries = document.get("targets")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{source}: `targets:` must be a non-empty list of targets")
    targets: list[Target] = []
    seen: dict[str, str] = {}
    for index, entry in enumerate(entries, start=1):
        where = f"{source}: target #{index}"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: expected a mapping with at least `url:`")
        if isinstance(entry.get("name"), str):
            where = f"{source}: target {entry['name']!r}"
        elif isinstance(entry.get("url"), str):
            where = f"{source}: target #{index} ({redact_userinfo(entry['url'])})"
        target = _parse_target({**defaults, **entry}, where, default_timeout)
        if target.id in seen:
            raise ConfigError(
                f"{where}: duplicate target id {target.id!r} (also {seen[target.id]}); "
                "give each a distinct `name:`"
            )
        seen[target.id] = where
        targets.append(target)
    return targets


def reject_unknown_keys(mapping: Mapping[Any, Any], allowed: set[str], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {key!r}; allowed keys: {', '.join(sorted(allowed))}"
            )


def _parse_target(entry: Mapping[str, Any], where: str, default_timeout: float) -> Target:
    reject_unknown_keys(entry, _TARGET_KEYS, where)
    url = entry.get("url")
    if not isinstance(url, str):
        raise ConfigError(f"{where}: `url` is required and must be a string")
    check_url(url, where)
    method = entry.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        raise ConfigError(f"{where}: method {method!r} is not one of {', '.join(HTTP_METHODS)}")
    method = method.upper()
    name = entry.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError(f"{where}: name must be a non-empty string")
    interval = parse_duration(entry.get("interval", DEFAULT_INTERVAL), where, "interval")
    timeout = parse_duration(entry.get("timeout", default_timeout), where, "timeout")
    headers = _parse_headers(entry.get("headers", {}), where)
    expect = entry.get("expect_status")
    expect_status = _parse_statuses(expect, where) if expect is not None else None
    pattern = entry.get("pattern")
    compiled = compile_pattern(pattern, where) if pattern is not None else None
    verify_tls = entry.get("verify_tls", True)
    if not isinstance(verify_tls, bool):
        raise ConfigError(f"{where}: verify_tls must be true or false")
    max_body = parse_size(
        entry.get("max_body_size", DEFAULT_MAX_BODY_BYTES), where, "max_body_size"
    )
    max_redirects = entry.get("max_redirects", DEFAULT_MAX_REDIRECTS)
    if not isinstance(max_redirects, int) or isinstance(max_redirects, bool) or max_redirects < 0:
        raise ConfigError(f"{where}: max_redirects must be a whole number >= 0")
    return Target(
        url=url,
        id=name.strip() if isinstance(name, str) else default_target_id(method, url),
        interval=interval,
        timeout=timeout,
        method=method,
        headers=headers,
        expect_status=expect_status,
        pattern=pattern,
        verify_tls=verify_tls,
        max_body_bytes=max_body,
        max_redirects=max_redirects,
        compiled_pattern=compiled,
    )


def _parse_headers(raw: object, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: headers must be a mapping of name: value")
    headers = []
    for key, value in raw.items():
        if not isinstance(key, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", key):
            raise ConfigError(f"{where}: headers: {key!r} is not a valid header name")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{where}: headers: {key} must have a string value")
        text = str(value)
        if "\r" in text or "\n" in text:
            raise ConfigError(f"{where}: headers: {key} value must be on one line")
        headers.append((key, text))
    return tuple(headers)


def _parse_statuses(raw: object, where: str) -> frozenset[int]:
    values: Iterable[object] = raw if isinstance(raw, list) else [raw]
    statuses = set()
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
            raise ConfigError(
                f"{where}: expect_status {value!r} is not an HTTP status (100-599); "
                "give a number or a list such as [200, 301]"
            )
        statuses.add(value)
    if not statuses:
        raise ConfigError(f"{where}: expect_status must list at least one status")
    return frozenset(statuses)
