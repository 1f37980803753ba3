"""POST a body over HTTP(S) with the standard library, for the HTTP notifiers.

Redirects are not followed (a POST must not silently become a GET elsewhere), TLS
certificates are verified (against `ca_file` when given), and errors name only the
host: webhook URLs often carry a token in their path or query.

What an error means for the retry (the same for every HTTP notifier):
- 2xx: delivered.
- 429 (rate limited), 408, 5xx, 3xx, no connection, no answer in time: retried with
  backoff; not before the receiver's `Retry-After` (header, or Discord's and
  Telegram's `retry_after` in the body) when it gives one.
- any other 4xx: permanent. The receiver refused this request (a wrong key, an
  unknown chat, a payload it rejects) and the same request again would be refused
  again: given up at once, logged with the receiver's reason.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from wac.alerts.messages import Notification
from wac.alerts.notifiers import DeliveryError
from wac.errors import ConfigError
from wac.settings.durations import parse_duration
from wac.yaml_config import shown

DEFAULT_TIMEOUT_S = 10.0
MAX_ANSWER_BYTES = 65536
MAX_DETAIL_CHARS = 300
MAX_RETRY_AFTER_S = 3600.0
_RETRIED_4XX = {408, 429}
USER_AGENT = "wac-alert/1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


@dataclass(frozen=True)
class Outgoing:
    """One request a notifier makes; built without I/O, so tests can check its shape."""

    url: str
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def host_of(url: str) -> str:
    """host[:port] of a URL, without user info: the only part of it errors show."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1]


def with_query(url: str, name: str, value: str) -> str:
    """The URL with its query parameter `name` set to `value` alone (appended last)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != name] + [(name, value)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def secret_parts(url: str) -> list[str]:
    """The pieces of a URL that may be its credential (path, query values), to redact."""
    parts = urlsplit(url)
    pieces = [url, parts.path, parts.query]
    pieces += [value for _, value in parse_qsl(parts.query) if len(value) >= 6]
    pieces += [segment for segment in parts.path.split("/") if len(segment) >= 12]
    return [piece for piece in pieces if len(piece) >= 6]


class HttpClient:
    """POSTs to the URLs a notifier builds; `secrets` are redacted from every error."""

    def __init__(self, timeout: float, ca_file: str | None, secrets: Iterable[str] = ()) -> None:
        self.timeout = timeout
        context = ssl.create_default_context(cafile=ca_file)
        self._opener = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPSHandler(context=context)
        )
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        host = host_of(url)
        request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310
        for key, value in headers.items():
            request.add_header(key, value)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                answer = Answer(int(response.status), response.read(MAX_ANSWER_BYTES))
        except urllib.error.HTTPError as exc:
            raise self._refusal(exc, host) from None
        except urllib.error.URLError as exc:
            raise DeliveryError(f"cannot reach {host}: {_reason(exc.reason)}") from None
        except TimeoutError:
            raise DeliveryError(f"no answer from {host} within {self.timeout:g} s") from None
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"{host}: {type(exc).__name__}") from None
        if not 200 <= answer.status < 300:
            raise DeliveryError(f"HTTP {answer.status} from {host}")
        return answer

    def deliver(self, outgoing: Outgoing, delivery_id: str) -> Answer:
        """POST it with the delivery's id as `Idempotency-Key`, the same on every retry."""
        headers = {
            "Content-Type": outgoing.content_type,
            "User-Agent": USER_AGENT,
            "Idempotency-Key": delivery_id,
            **outgoing.headers,
        }
        return self.post(outgoing.url, outgoing.body, headers)

    def _refusal(self, exc: urllib.error.HTTPError, host: str) -> DeliveryError:
        try:
            body = exc.read(MAX_ANSWER_BYTES)
        except (OSError, ValueError):
            body = b""
        detail = self.redact(error_detail(body))
        message = f"HTTP {exc.code} from {host}" + (f": {detail}" if detail else "")
        if 400 <= exc.code < 500 and exc.code not in _RETRIED_4XX:
            return DeliveryError(message, permanent=True)
        header = exc.headers.get("Retry-After") if exc.headers else None
        return DeliveryError(message, retry_after=retry_after(header, body))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


class HttpPoster:
    """One fixed URL (the generic webhook's, Slack's)."""

    def __init__(self, url: str, timeout: float, ca_file: str | None) -> None:
        self.url = url
        self.host = host_of(url)
        self.timeout = timeout
        self._client = HttpClient(timeout, ca_file, secret_parts(url))

    def post(self, body: bytes, headers: Mapping[str, str]) -> int:
        return self._client.post(self.url, body, headers).status


@dataclass(eq=False, repr=False)
class RequestNotifier:
    """A notifier that makes one HTTP request per notification (`request`; None: nothing
    to send for it), delivered by its client with the notification's id as the
    idempotency key. Notifiers hold secrets: their repr is object's, which shows none."""

    name: str
    client: HttpClient

    def request(self, notification: Notification) -> Outgoing | None:
        raise NotImplementedError

    def send(self, notification: Notification) -> None:
        outgoing = self.request(notification)
        if outgoing is not None:
            self.client.deliver(outgoing, notification.id)


def error_detail(body: bytes) -> str:
    """The reason in a receiver's error answer, on one short line ("" when none).

    Reads the JSON error shapes of the vendors wac talks to (`description`, `message`,
    `error`, `errors` as a list or nested mapping) or the first line of a text answer.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, Mapping):
        parts: list[str] = []
        for key in ("description", "message", "error"):
            value = data.get(key)
            if isinstance(value, Mapping):
                value = value.get("message")
            if isinstance(value, str) and value.strip():
                parts.append(value)
        errors = list(_leaves(data.get("errors"), ""))[:3]
        if errors:
            parts.append("; ".join(errors))
        return _one_line(": ".join(parts))
    if isinstance(data, str | list):
        return _one_line("; ".join(_leaves(data, ""))) if data else ""
    text = body[: MAX_DETAIL_CHARS * 2].decode("utf-8", "replace").strip()
    if not text or text.startswith("<"):  # an HTML error page says nothing useful here
        return ""
    return _one_line(text.splitlines()[0])


def _leaves(value: object, path: str, depth: int = 0) -> Iterator[str]:
    """Strings in nested error structures, with the key path that leads to them."""
    if depth > 8:
        return
    if isinstance(value, str):
        yield f"{path}: {value}" if path else value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            name = str(key)
            if name == "code":
                continue
            skip = name in ("_errors", "message") or name.isdigit()
            yield from _leaves(item, path if skip else f"{path}.{name}".lstrip("."), depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, path, depth + 1)


def _one_line(text: str) -> str:
    cleaned = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    single = " ".join(cleaned.split())
    if len(single) > MAX_DETAIL_CHARS:
        single = single[: MAX_DETAIL_CHARS - 1] + "…"
    return single


def retry_after(header: str | None, body: bytes = b"") -> float | None:
    """Seconds the receiver asks us to wait (Retry-After, or `retry_after` in the body)."""
    waits: list[float] = []
    if header:
        value = header.strip()
        try:
            waits.append(float(value))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                waits.append((when - datetime.now(UTC)).total_seconds())
    try:
        data = json.loads(body) if body else None
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, Mapping):
        parameters = data.get("parameters")
        for given in (
            data.get("retry_after"),
            parameters.get("retry_after") if isinstance(parameters, Mapping) else None,
        ):
            if isinstance(given, int | float) and not isinstance(given, bool):
                waits.append(float(given))
    finite = [w for w in waits if w == w and w not in (float("inf"), float("-inf"))]
    if not finite:
        return None
    return min(MAX_RETRY_AFTER_S, max(0.0, max(finite)))


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(reason, ssl.SSLError):
        return f"TLS: {reason.reason or 'handshake failed'}"
    if isinstance(reason, OSError):
        return reason.strerror or type(reason).__name__
    return str(reason)[:200]


def timeout_and_ca(spec: Mapping[str, Any], where: str) -> tuple[float, str | None]:
    """A notifier's `timeout` (default 10 s) and `ca_file` (None: the system's CAs)."""
    timeout = parse_duration(spec.get("timeout", DEFAULT_TIMEOUT_S), where, "timeout")
    ca_file = spec.get("ca_file")
    if ca_file is not None and not isinstance(ca_file, str):
        raise ConfigError(f"{where}: ca_file must be a path to PEM CA certificates")
    return timeout, ca_file


def poster_from_config(url: str, spec: Mapping[str, Any], where: str) -> HttpPoster:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
        # The URL itself stays out of the message: it may be a secret (Slack's are).
        raise ConfigError(f"{where}: url must be an absolute http:// or https:// URL")
    timeout, ca_file = timeout_and_ca(spec, where)
    try:
        return HttpPoster(url, timeout, ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{where}: ca_file {shown(ca_file)} cannot be used: {exc}") from None


def client_from_config(spec: Mapping[str, Any], where: str, secrets: Iterable[str]) -> HttpClient:
    """`timeout` and `ca_file` of a notifier; `secrets` are what its errors must not show."""
    timeout, ca_file = timeout_and_ca(spec, where)
    try:
        return HttpClient(timeout, ca_file, secrets)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{where}: ca_file {shown(ca_file)} cannot be used: {exc}") from None


def endpoint(
    url: object, where: str, key: str, *, secret_url: bool, sends_secret: bool = True
) -> str:
    """A checked endpoint URL, without a trailing slash.

    `secret_url`: the URL is itself the credential, so no message shows it.
    `sends_secret`: a credential travels with every request, so plain http:// is
    refused except to a loopback address (a local relay, a test receiver).
    """
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{where}: {key} must be an absolute https:// URL")
    parts = urlsplit(url)
    try:
        hostname = parts.hostname
    except ValueError:
        hostname = None
    if parts.scheme not in ("http", "https") or not hostname or any(c.isspace() for c in url):
        got = "" if secret_url else f", got {shown(url)}"
        raise ConfigError(f"{where}: {key} must be an absolute http:// or https:// URL{got}")
    if sends_secret and parts.scheme == "http" and not _loopback(hostname):
        raise ConfigError(
            f"{where}: {key} is plain http:// to {hostname}, which would send the credential "
            "unencrypted: use https:// (http:// is accepted only for a loopback address)"
        )
    return url.rstrip("/")


def _loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
