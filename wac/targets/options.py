"""The option structures of the probes beside HTTP, and their URLs' forms.

Each probe (wac.probes.tcp, tls, dns, icmp) and the heartbeat targets (wac.heartbeat)
take their settings beyond the URL as one of these frozen structures, in the target's
`probe_options`; each checks its own bounds and raises ValueError naming the option. They
live here, with the checks of each scheme's URL, so that the targets loader builds and
checks them without importing the probes (the probes' modules re-export them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar
from urllib.parse import SplitResult, parse_qsl, urlsplit

from wac import limits
from wac.patterns import BodyPattern, PatternError, compile_body_pattern

TLS_VERSION_NAMES = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
DEFAULT_MAX_READ_BYTES = 4096
DEFAULT_COUNT = 3
DEFAULT_INTERVAL_S = 0.2
DEFAULT_GRACE_S = 60.0
MIN_TOKEN_CHARS = 16
MAX_TOKEN_CHARS = 256
TOKEN = re.compile(rf"[A-Za-z0-9._~-]{{{MIN_TOKEN_CHARS},{MAX_TOKEN_CHARS}}}")
_PUSH_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")

OptionsT = TypeVar("OptionsT")


def options_as(
    probe_options: object, kind: type[OptionsT], default: OptionsT | None, scheme: str
) -> OptionsT:
    """A target's `probe_options`, which must be a `kind` (when absent: `default`, if
    any); TypeError naming the `scheme` otherwise."""
    if probe_options is None and default is not None:
        return default
    if not isinstance(probe_options, kind):
        article = "an" if scheme[0] in "aeiou" else "a"
        raise TypeError(
            f"{article} {scheme} target takes {kind.__name__}, not {type(probe_options).__name__}"
        )
    return probe_options


def split_url(url: str) -> SplitResult:
    """The URL's parts; ValueError when it does not parse (or its port is out of range)."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    return parts


def expect_pattern(text: str) -> BodyPattern:
    """The compiled `expect` regex (RE2, as body patterns); ValueError naming the option
    when it is empty, too long or refused by RE2."""
    if not text or len(text) > limits.MAX_PATTERN_CHARS:
        raise ValueError(f"expect must be 1 to {limits.MAX_PATTERN_CHARS} characters long")
    try:
        return compile_body_pattern(text)
    except PatternError as exc:
        raise ValueError(f"expect {text!r} is not a valid regex for RE2: {exc}") from None


@dataclass(frozen=True)
class TcpOptions:
    """What a tcp:// target may set beyond the URL (defaults: connect only).

    Raises ValueError, naming the option, for a value out of its bounds.
    """

    send: bytes | str | None = None  # sent once connected; text is sent as UTF-8
    expect: str | None = None  # an RE2 regex looked for in the reply
    tls: bool = False  # a TLS handshake first, verified as HTTP verifies
    max_read_bytes: int = DEFAULT_MAX_READ_BYTES  # the most of the reply read

    def __post_init__(self) -> None:
        if isinstance(self.send, str):
            object.__setattr__(self, "send", self.send.encode())
        if self.send is not None and not 0 < len(self.send) <= limits.MAX_TCP_SEND_BYTES:
            raise ValueError(
                f"send must be 1 to {limits.MAX_TCP_SEND_BYTES} bytes, got {len(self.send)}"
            )
        if not 1 <= self.max_read_bytes <= limits.MAX_TCP_READ_BYTES:
            raise ValueError(
                f"max_read_bytes must be from 1 to {limits.MAX_TCP_READ_BYTES}, "
                f"got {self.max_read_bytes}"
            )
        if self.expect is not None:
            expect_pattern(self.expect)

    @property
    def payload(self) -> bytes | None:
        return self.send if isinstance(self.send, bytes) else None


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int


@lru_cache(maxsize=65536)
def parse_host_port_url(url: str, scheme: str) -> HostPort:
    """`scheme://host:port` (no path but `/`, no query); ValueError saying what is wrong."""
    parts = split_url(url)
    if parts.scheme.lower() != scheme:
        raise ValueError(f"a {scheme} target's URL starts with {scheme}://")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{scheme}:// URLs are {scheme}://host:port, with nothing after the port")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{scheme}:// URLs take no user name or password")
    if not parts.hostname:
        raise ValueError(f"{scheme}:// URLs need a host: {scheme}://host:port")
    if parts.port is None or parts.port == 0:
        raise ValueError(f"{scheme}:// URLs need a port from 1 to 65535: {scheme}://host:port")
    return HostPort(parts.hostname, parts.port)


@dataclass(frozen=True)
class TlsOptions:
    """What a tls:// target may set beyond the URL. ValueError names a bad value."""

    min_tls_version: str | None = None  # TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3

    def __post_init__(self) -> None:
        if self.min_tls_version is not None and self.min_tls_version not in TLS_VERSION_NAMES:
            names = ", ".join(TLS_VERSION_NAMES)
            raise ValueError(f"min_tls_version {self.min_tls_version!r} is not one of {names}")


@dataclass(frozen=True)
class DnsOptions:
    """What a dns:// target may set beyond the URL. ValueError names a bad value."""

    expect: str | None = None  # an RE2 regex that one of the answers must match

    def __post_init__(self) -> None:
        if self.expect is not None:
            expect_pattern(self.expect)


@dataclass(frozen=True)
class IcmpOptions:
    """What an icmp:// target may set beyond the URL. ValueError names a bad value."""

    count: int = DEFAULT_COUNT  # echo requests per check
    interval: float = DEFAULT_INTERVAL_S  # seconds between two requests
    max_loss_pct: float | None = None  # None: up while at least one reply comes

    def __post_init__(self) -> None:
        if not 1 <= self.count <= limits.MAX_ICMP_COUNT:
            raise ValueError(f"count must be from 1 to {limits.MAX_ICMP_COUNT}, got {self.count}")
        if not limits.MIN_ICMP_INTERVAL_S <= self.interval <= limits.MAX_ICMP_INTERVAL_S:
            raise ValueError(
                f"interval must be from {limits.describe_seconds(limits.MIN_ICMP_INTERVAL_S)} "
                f"to {limits.describe_seconds(limits.MAX_ICMP_INTERVAL_S)}, got {self.interval}"
            )
        if self.max_loss_pct is not None and not 0 <= self.max_loss_pct < 100:
            raise ValueError(f"max_loss_pct must be from 0 to 99.9, got {self.max_loss_pct}")


@lru_cache(maxsize=65536)
def parse_icmp_url(url: str) -> str:
    """The host of `icmp://host`; ValueError saying what is wrong."""
    parts = split_url(url)
    if parts.scheme.lower() != "icmp":
        raise ValueError("an icmp target's URL starts with icmp://")
    if parts.port is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("icmp:// URLs are icmp://host, with no port, path or query")
    if parts.username is not None or parts.password is not None:
        raise ValueError("icmp:// URLs take no user name or password")
    if not parts.hostname:
        raise ValueError("icmp:// URLs need a host: icmp://host")
    return parts.hostname


@dataclass(frozen=True)
class PushOptions:
    """A push (heartbeat) target's settings beyond the URL: `grace` (seconds a ping may
    be late) and its token (the value of the variable `token_env`, never shown)."""

    token_env: str
    token: str = field(repr=False)
    grace: float = DEFAULT_GRACE_S


@lru_cache(maxsize=65536)
def parse_push_url(url: str) -> str:
    """The NAME of `push://NAME`; ValueError saying what is wrong."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme.lower() != "push":
        raise ValueError("a push target's URL starts with push://")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("push:// URLs are push://NAME, with nothing after the name")
    if not _PUSH_NAME.fullmatch(parts.netloc):
        raise ValueError(
            "push://NAME takes a name of letters, digits, '.', '_' and '-' (e.g. "
            "push://nightly-backup)"
        )
    return parts.netloc


def check_token(value: str) -> str | None:
    """Why a push token cannot be used (never quoting it), or None."""
    if not TOKEN.fullmatch(value):
        return (
            f"must be {MIN_TOKEN_CHARS} to {MAX_TOKEN_CHARS} characters of letters, digits, "
            "'-', '_', '.' and '~' (e.g. the output of: openssl rand -hex 16)"
        )
    return None


QUERY_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA")
DNS_PORT = 53


@dataclass(frozen=True)
class DnsUrl:
    server: str | None  # None: the system's resolvers
    port: int
    name: str  # a valid domain name (dnspython reads it)
    type_name: str


@lru_cache(maxsize=65536)
def split_dns_url(url: str) -> DnsUrl:
    """`dns://[server[:port]]/name?type=T`; ValueError saying what is wrong."""
    import dns.exception
    import dns.name

    form = "dns://[server[:port]]/name?type=A"
    parts = split_url(url)
    if parts.scheme.lower() != "dns":
        raise ValueError(f"a dns target's URL starts with dns:// ({form})")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise ValueError(f"dns:// URLs take no user name, password or #fragment ({form})")
    if parts.netloc and not parts.hostname:
        raise ValueError(f"the server of a dns:// URL is a host name or an IP address ({form})")
    if parts.port == 0:
        raise ValueError("the port of a dns:// server is from 1 to 65535")
    text = parts.path.lstrip("/")
    if not text or "/" in text:
        raise ValueError(f"a dns:// URL names one domain name after the server ({form})")
    try:
        dns.name.from_text(text)
    except dns.exception.DNSException as exc:
        raise ValueError(f"{text!r} is not a valid domain name ({exc})") from None
    type_name = "A"
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "type":
            raise ValueError(f"a dns:// URL takes only ?type=, not ?{key}= ({form})")
        type_name = value.upper()
        if type_name not in QUERY_TYPES:
            raise ValueError(f"type={value} is not one of {', '.join(QUERY_TYPES)}")
    return DnsUrl(parts.hostname or None, parts.port or DNS_PORT, text, type_name)
