"""Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat, Discord's /slack).

Posts `{"text": ...}`. The webhook URL is itself the credential: give it through
`url_env` (an environment variable) rather than in the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wac.alerts.messages import Notification, encoder
from wac.alerts.notifiers import Notifier, from_env, reject_unknown, string
from wac.alerts.notifiers.http import HttpPoster, poster_from_config

_KEYS = {"url", "url_env", "timeout", "ca_file", "username", "icon_emoji"}
_ICONS = {"down": ":red_circle:", "up": ":large_green_circle:", "reminder": ":warning:"}


class SlackNotifier:
    def __init__(self, name: str, poster: HttpPoster, extra: Mapping[str, str]) -> None:
        self.name = name
        self._poster = poster
        self._extra = dict(extra)

    def describe(self) -> str:
        return f"slack webhook to {self._poster.host}"

    def send(self, notification: Notification) -> None:
        icon = _ICONS.get(notification.kind, ":lock:")
        text = f"{icon} {notification.text}"
        if notification.url and notification.url != notification.target:
            text += f"\n<{notification.url}>"
        body = encoder.encode({**self._extra, "text": text})
        self._poster.post(
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": "wac-alert/1",
                "Idempotency-Key": notification.id,
            },
        )


def from_config(name: str, spec: Mapping[str, Any], env: Mapping[str, str], where: str) -> Notifier:
    reject_unknown(spec, _KEYS, where)
    url = from_env(spec, "url_env", env, where) or string(spec, "url", where)
    extra = {k: string(spec, k, where) for k in ("username", "icon_emoji") if k in spec}
    return SlackNotifier(name, poster_from_config(url, spec, where), extra)
