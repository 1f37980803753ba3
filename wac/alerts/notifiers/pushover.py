"""Pushover Message API: a form-encoded POST to `/1/messages.json`.

The application token (`token_env`) and the user or group key (`user_key_env`) come
from the environment. DOWN and reminders go at `priority` (default 1, high: they
bypass quiet hours); UP and certificate warnings at 0. Emergency priority (2) is not
offered: it needs receipts acknowledged and cancelled, which wac does not track.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from wac.alerts.messages import Notification
from wac.alerts.notifiers import Notifier, reject_unknown
from wac.alerts.notifiers.http import (
    Outgoing,
    RequestNotifier,
    client_from_config,
    host_of,
)
from wac.alerts.notifiers.render import clip, facts, headline, link
from wac.alerts.notifiers.settings import (
    api_url,
    optional_text,
    required_secret,
    whole_number,
)
from wac.errors import ConfigError

DEFAULT_API_URL = "https://api.pushover.net"
MESSAGES_PATH = "/1/messages.json"
KEY = re.compile(r"^[A-Za-z0-9]{30}$")
DEVICES = re.compile(r"^[A-Za-z0-9_-]{1,25}(,[A-Za-z0-9_-]{1,25})*$")
# Documented limits.
MAX_TITLE = 250
MAX_MESSAGE = 1024
MAX_URL = 512
MAX_URL_TITLE = 100
_KEYS = {
    "token_env",
    "user_key_env",
    "priority",
    "sound",
    "device",
    "api_url",
    "timeout",
    "ca_file",
}


@dataclass(eq=False, repr=False, kw_only=True)
class PushoverNotifier(RequestNotifier):
    token: str
    user_key: str
    url: str  # the Message API's URL
    priority: int
    sound: str | None
    device: str | None

    def describe(self) -> str:
        return f"pushover to {host_of(self.url)} (priority {self.priority})"

    def fields(self, notification: Notification) -> dict[str, str]:
        urgent = notification.kind in ("down", "reminder")
        lines = [notification.text, ""] + [
            f"{k}: {v}" for k, v in facts(notification) if k != "URL"
        ]
        fields = {
            "token": self.token,
            "user": self.user_key,
            "title": clip(headline(notification), MAX_TITLE),
            "message": clip("\n".join(lines), MAX_MESSAGE),
            "priority": str(self.priority if urgent else 0),
            "timestamp": str(int(notification.at.timestamp())),
        }
        href = link(notification)
        if href and len(href) <= MAX_URL:
            fields["url"] = href
            fields["url_title"] = clip(f"Open {notification.target}", MAX_URL_TITLE)
        if self.sound:
            fields["sound"] = self.sound
        if self.device:
            fields["device"] = self.device
        return fields

    def request(self, notification: Notification) -> Outgoing:
        body = urlencode(self.fields(notification)).encode()
        return Outgoing(self.url, body, content_type="application/x-www-form-urlencoded")


def from_config(name: str, spec: Mapping[str, Any], env: Mapping[str, str], where: str) -> Notifier:
    token = required_secret(spec, "token", env, where, "Pushover application token")
    user_key = required_secret(spec, "user_key", env, where, "Pushover user or group key")
    reject_unknown(spec, _KEYS, where)
    for key, value in (("token_env", token), ("user_key_env", user_key)):
        if not KEY.match(value):
            raise ConfigError(
                f"{where}: the value of {spec[key]} is not a Pushover key (30 letters and digits)"
            )
    if spec.get("priority") == 2:
        raise ConfigError(
            f"{where}: priority 2 (emergency) needs acknowledgements wac does not track: "
            "use 1 (high, the default), 0, -1 or -2"
        )
    device = optional_text(spec, "device", where, 200)
    if device is not None and not DEVICES.match(device):
        raise ConfigError(
            f"{where}: device must be device names (letters, digits, - _; up to 25 each) "
            "separated by commas"
        )
    priority = whole_number(spec, "priority", where, -2, 1, 1)
    assert priority is not None
    return PushoverNotifier(
        name,
        client_from_config(spec, where, [token, user_key]),
        token=token,
        user_key=user_key,
        url=api_url(spec, DEFAULT_API_URL, where, sends_secret=True) + MESSAGES_PATH,
        priority=priority,
        sound=optional_text(spec, "sound", where, 64),
        device=device,
    )
