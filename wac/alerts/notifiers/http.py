"""POST a body over HTTP(S) with the standard library, for the webhook notifiers.

Redirects are not followed (a POST must not silently become a GET elsewhere), TLS
certificates are verified (against `ca_file` when given), and errors name only the
host: webhook URLs often carry a token in their path.
"""

from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from wac.alerts.notifiers import DeliveryError
from wac.errors import ConfigError
from wac.targets import parse_duration
from wac.yaml_config import shown

DEFAULT_TIMEOUT_S = 10.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpPoster:
    def __init__(self, url: str, timeout: float, ca_file: str | None) -> None:
        self.url = url
        self.host = urlsplit(url).netloc.rsplit("@", 1)[-1]
        self.timeout = timeout
        context = ssl.create_default_context(cafile=ca_file)
        self._opener = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPSHandler(context=context)
        )

    def post(self, body: bytes, headers: Mapping[str, str]) -> int:
        request = urllib.request.Request(self.url, data=body, method="POST")  # noqa: S310
        for key, value in headers.items():
            request.add_header(key, value)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(65536)
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"HTTP {exc.code} from {self.host}") from None
        except urllib.error.URLError as exc:
            raise DeliveryError(f"cannot reach {self.host}: {_reason(exc.reason)}") from None
        except TimeoutError:
            raise DeliveryError(f"no answer from {self.host} within {self.timeout:g} s") from None
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"{self.host}: {type(exc).__name__}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status} from {self.host}")
        return status


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(reason, ssl.SSLError):
        return f"TLS: {reason.reason or 'handshake failed'}"
    if isinstance(reason, OSError):
        return reason.strerror or type(reason).__name__
    return str(reason)[:200]


def poster_from_config(url: str, spec: Mapping[str, Any], where: str) -> HttpPoster:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
        # The URL itself stays out of the message: it may be a secret (Slack's are).
        raise ConfigError(f"{where}: url must be an absolute http:// or https:// URL")
    timeout = parse_duration(spec.get("timeout", DEFAULT_TIMEOUT_S), where, "timeout")
    ca_file = spec.get("ca_file")
    if ca_file is not None and not isinstance(ca_file, str):
        raise ConfigError(f"{where}: ca_file must be a path to PEM CA certificates")
    try:
        return HttpPoster(url, timeout, ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{where}: ca_file {shown(ca_file)} cannot be used: {exc}") from None
