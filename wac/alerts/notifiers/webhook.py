"""Generic webhook: the notification as a JSON body, signed with HMAC-SHA256.

Headers: `X-Wac-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` (key from
the environment variable named by `secret_env`), `Idempotency-Key` and
`X-Wac-Delivery` (the notification id, the same on every retry) and `X-Wac-Kind`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from wac.alerts.messages import Notification, encoder
from wac.alerts.notifiers import Notifier, from_env, reject_unknown, string
from wac.alerts.notifiers.http import HttpPoster, poster_from_config
from wac.errors import ConfigError

SIGNATURE_HEADER = "X-Wac-Signature-256"
_KEYS = {"url", "url_env", "secret_env", "headers", "timeout", "ca_file"}


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    def __init__(
        self,
        name: str,
        poster: HttpPoster,
        secret: bytes | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self._poster = poster
        self._secret = secret
        self._headers = dict(headers or {})

    def describe(self) -> str:
        signed = "signed" if self._secret else "unsigned"
        return f"webhook to {self._poster.host} ({signed})"

    def send(self, notification: Notification) -> None:
        body = encoder.encode(notification)
        headers = {
            **self._headers,
            "Content-Type": "application/json",
            "User-Agent": "wac-alert/1",
            "Idempotency-Key": notification.id,
            "X-Wac-Delivery": notification.id,
            "X-Wac-Kind": notification.kind,
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        self._poster.post(body, headers)


def from_config(name: str, spec: Mapping[str, Any], env: Mapping[str, str], where: str) -> Notifier:
    if "secret" in spec:
        raise ConfigError(f"{where}: put the secret in the environment and name it in secret_env")
    reject_unknown(spec, _KEYS, where)
    url = from_env(spec, "url_env", env, where) or string(spec, "url", where)
    secret = from_env(spec, "secret_env", env, where)
    headers = spec.get("headers", {})
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and "\n" not in v for k, v in headers.items()
    ):
        raise ConfigError(f"{where}: headers must be a mapping of name: string value")
    poster = poster_from_config(url, spec, where)
    return WebhookNotifier(name, poster, secret.encode() if secret else None, headers)
