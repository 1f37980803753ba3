"""`Target`: one thing to check, as the monitor and the probes use it."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from wac.config import redact_userinfo
from wac.patterns import BodyPattern
from wac.yaml_config import shown

DEFAULT_INTERVAL = 10.0
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_REDIRECTS = 5
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
HTTP_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True)
class HttpAuth:
    """The credentials of an HTTP target, read from the environment variable `env` names
    when the target is loaded. The secret is never shown (repr) nor written (JSON form)."""

    kind: str  # `basic` (the variable holds user:password) or `bearer` (a token)
    env: str  # the variable's name: what the JSON form writes
    secret: str = field(repr=False)

    @property
    def header(self) -> str:
        if self.kind == "bearer":
            return f"Authorization: Bearer {self.secret}"
        token = base64.b64encode(self.secret.encode()).decode()
        return f"Authorization: Basic {token}"


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
    # HTTP only: the request's body (`body`, or `json` encoded: `body_json` keeps the
    # JSON text for the target's JSON form), credentials, client certificate (mutual
    # TLS), protocol version (None: libcurl's choice) and IP version (None: either).
    body: bytes | None = field(default=None, repr=False)
    body_json: str | None = field(default=None, repr=False)
    http_auth: HttpAuth | None = None
    client_cert: str | None = None
    client_key: str | None = None
    http_version: str | None = None  # "1.1" or "2"
    ip_version: int | None = None  # 4 or 6
    # `assert:` conditions (wac.assertions.Condition), judged after the probe's own checks.
    assertions: tuple[Any, ...] = ()

    @cached_property
    def public_url(self) -> str:
        """The URL without credentials: what results and logs show."""
        return redact_userinfo(self.url)

    @cached_property
    def scheme(self) -> str:
        """The URL's scheme, lower case: it picks the probe (`wac.probes.registry`)."""
        return self.url.partition(":")[0].lower()

    @property
    def has_own_name(self) -> bool:
        """True when the id is a `name:` rather than the default `METHOD url`."""
        return self.id != default_target_id(self.method, self.url)

    @cached_property
    def assertion_subjects(self) -> frozenset[str]:
        """The subjects of the `assert:` conditions (STATUS, HEADER, BODY, ...)."""
        return frozenset(c.subject for c in self.assertions)

    @cached_property
    def asserts_status(self) -> bool:
        """An `assert:` condition judges the status: the 2xx/3xx default is off."""
        return "STATUS" in self.assertion_subjects

    def status_expected(self, status: int) -> bool:
        if self.expect_status is None:
            return self.asserts_status or 200 <= status < 400
        return status in self.expect_status


def default_target_id(method: str, url: str) -> str:
    """`METHOD url` for HTTP; the URL itself for the other probes (no method)."""
    if url[:5].lower() in ("http:", "https"):
        return f"{method} {public(url)}"
    return public(url)


def public(url: str) -> str:
    return redact_userinfo(url) if "@" in url else url  # most URLs: no parsing at all


def safe_url(url: str) -> str:
    """The URL for a message: never its credentials, even when it does not parse."""
    shown_url = public(url)
    if shown_url == url and "@" in url:
        scheme, separator, rest = url.partition("://")
        if not separator:  # no scheme: all before the last @ may be a secret
            scheme, rest = "", url
        after = rest.rsplit("@", 1)[-1]
        shown_url = f"{scheme}{separator}***@{after}"
    return shown(shown_url)
