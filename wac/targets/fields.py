"""The fields of a target entry: each one's parser, default and JSON form, in one table.

A targets-file entry (YAML) and a target's JSON value go through this table alike
(wac.targets.entry), so they are checked the same way, with the same messages. Every
value is bounded (wac.limits), so that a target accepted here can always be checked.

A new field is one row of `FIELDS`: the key as written, its parser (raw value and the
place it is at, for messages, to the typed value), its default, whether `defaults:` may
set it, how the JSON form writes it from a `Target`, and the URL schemes (probes) it
applies to. A field given (not null) on a target of another scheme is refused, naming
the field; a value of `defaults:` applies only where its field does. A field given as
null is a field left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from wac import limits
from wac.errors import ConfigError
from wac.patterns import BodyPattern, PatternError, compile_body_pattern
from wac.settings.durations import check_seconds, parse_duration
from wac.targets import options
from wac.targets import probe_fields as pf
from wac.targets.target import (
    DEFAULT_INTERVAL,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_REDIRECTS,
    HTTP_METHODS,
    HTTP_SCHEMES,
    Target,
    safe_url,
)
from wac.yaml_config import shown

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
        raise ConfigError(f"{where}: url {safe_url(url)} {problem}")
    if (simple := _SIMPLE_URL.fullmatch(url)) and int(simple.group(1) or 0) <= 65535:
        return url  # the common form, checked without urlsplit's cost
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise ConfigError(f"{where}: url {safe_url(url)} is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(
            f"{where}: url {safe_url(url)} must start with http://, https://, tcp://, tls://, "
            "dns://, icmp:// or push:// (e.g. https://example.com/)"
        )
    if scheme in HTTP_SCHEMES:
        if not parts.hostname:
            raise ConfigError(f"{where}: url {safe_url(url)} has no host name")
        return url
    try:
        _URL_PARSERS[scheme](url)
    except ValueError as exc:
        raise ConfigError(f"{where}: url {safe_url(url)}: {exc}") from None
    return url


def _host_port(url: str) -> object:
    return options.parse_host_port_url(url, url.partition(":")[0].lower())


# The URL parser of each probe's scheme (the dns one imports dnspython when first used).
_URL_PARSERS: dict[str, Callable[[str], object]] = {
    "tcp": _host_port,
    "tls": _host_port,
    "dns": options.split_dns_url,
    "icmp": options.parse_icmp_url,
    "push": options.parse_push_url,
}
SCHEMES = frozenset({"http", "https", *_URL_PARSERS})


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
    return pf.whole_number(raw, where, "max_redirects", 0, limits.MAX_REDIRECTS)


REQUIRED = object()  # a field without a default: the entry must give it
TIMEOUT_SETTING = object()  # the timeout's default: CHECK_TIMEOUT, given by the caller


@dataclass(frozen=True)
class Field:
    key: str  # as written in the file and in the JSON form
    parse: Callable[[object, str], Any]  # (raw value, where it is) -> typed value
    to_json: Callable[[Target], object]  # the JSON form's value, from a Target
    default: Any = REQUIRED
    in_defaults: bool = True  # `defaults:` may set it
    schemes: frozenset[str] | None = None  # the URL schemes it applies to (None: all)

    def applies_to(self, scheme: str) -> bool:
        return self.schemes is None or scheme in self.schemes


def _json_name(target: Target) -> str | None:
    return target.id if target.has_own_name else None


def _json_statuses(target: Target) -> list[int] | None:
    return None if target.expect_status is None else sorted(target.expect_status)


def _option(name: str) -> Callable[[Target], object]:
    """The JSON form of a probe's option: its value in `probe_options`, else null."""

    def value(target: Target) -> object:
        found = getattr(target.probe_options, name, None)
        return found.decode() if isinstance(found, bytes) else found

    return value


def _auth_env(kind: str) -> Callable[[Target], object]:
    return lambda t: (
        t.http_auth.env if t.http_auth is not None and t.http_auth.kind == kind else None
    )


HTTP = HTTP_SCHEMES
ALL_BUT_PUSH = frozenset(SCHEMES - {"push"})
VERIFIED = frozenset({"http", "https", "tcp", "tls"})

FIELDS: tuple[Field, ...] = (
    Field("url", _parse_url, lambda t: t.url, in_defaults=False),
    Field("name", _parse_name, _json_name, None, in_defaults=False),
    Field("interval", _parse_interval, lambda t: t.interval, DEFAULT_INTERVAL),
    Field("timeout", _parse_timeout, lambda t: t.timeout, TIMEOUT_SETTING, schemes=ALL_BUT_PUSH),
    Field("method", _parse_method, lambda t: t.method, "GET", schemes=HTTP),
    Field("headers", _parse_headers, lambda t: dict(t.headers), (), schemes=HTTP),
    Field("expect_status", _parse_statuses, _json_statuses, None, schemes=HTTP),
    Field("pattern", _parse_pattern, lambda t: t.pattern, None, in_defaults=False, schemes=HTTP),
    Field("verify_tls", _parse_verify_tls, lambda t: t.verify_tls, True, schemes=VERIFIED),
    Field(
        "max_body_size",
        _parse_max_body_size,
        lambda t: t.max_body_bytes,
        DEFAULT_MAX_BODY_BYTES,
        schemes=HTTP,
    ),
    Field(
        "max_redirects",
        _parse_max_redirects,
        lambda t: t.max_redirects,
        DEFAULT_MAX_REDIRECTS,
        schemes=HTTP,
    ),
    # HTTP requests beyond a GET
    Field(
        "body",
        pf.parse_body,
        lambda t: t.body.decode() if t.body is not None and t.body_json is None else None,
        None,
        in_defaults=False,
        schemes=HTTP,
    ),
    Field(
        "json",
        pf.parse_json_body,
        lambda t: pf.json_value(t.body_json),
        None,
        in_defaults=False,
        schemes=HTTP,
    ),
    Field("basic_auth_env", pf.parse_basic_auth_env, _auth_env("basic"), None, schemes=HTTP),
    Field("bearer_token_env", pf.parse_bearer_token_env, _auth_env("bearer"), None, schemes=HTTP),
    Field("client_cert", pf.parse_client_cert, lambda t: t.client_cert, None, schemes=HTTP),
    Field("client_key", pf.parse_client_key, lambda t: t.client_key, None, schemes=HTTP),
    Field("http_version", pf.parse_http_version, lambda t: t.http_version, None, schemes=HTTP),
    Field("ip_version", pf.parse_ip_version, lambda t: t.ip_version, None, schemes=HTTP),
    # the other probes' options (their structures: wac.probes.tcp.TcpOptions, ...)
    Field("send", pf.parse_send, _option("send"), None, False, frozenset({"tcp"})),
    Field("expect", pf.parse_expect, _option("expect"), None, False, frozenset({"tcp", "dns"})),
    Field("tls", pf.parse_tls, _option("tls"), None, True, frozenset({"tcp"})),
    Field(
        "min_tls_version",
        pf.parse_min_tls_version,
        _option("min_tls_version"),
        None,
        True,
        frozenset({"tls"}),
    ),
    Field("count", pf.parse_count, _option("count"), None, True, frozenset({"icmp"})),
    # heartbeats (wac.heartbeat)
    Field("grace", pf.parse_grace, _option("grace"), None, True, frozenset({"push"})),
    Field("token_env", pf.parse_token_env, _option("token_env"), None, False, frozenset({"push"})),
    # conditions on any probe's result (wac.assertions)
    Field(
        "assert",
        pf.parse_assert,
        lambda t: [c.text for c in t.assertions] or None,
        (),
        in_defaults=False,
        schemes=ALL_BUT_PUSH,
    ),
)
FIELD_BY_KEY = {f.key: f for f in FIELDS}
TARGET_PARSERS: dict[str, Callable[[object, str], Any]] = {f.key: f.parse for f in FIELDS}
DEFAULT_PARSERS = {f.key: f.parse for f in FIELDS if f.in_defaults}


def field_defaults(default_timeout: float) -> dict[str, Any]:
    """The value of every field an entry may leave out, `timeout` being `default_timeout`."""
    found = {f.key: f.default for f in FIELDS if f.default is not REQUIRED}
    found["timeout"] = default_timeout
    return found
