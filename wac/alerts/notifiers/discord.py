"""Discord webhook with an embed: coloured title, the text, fields naming the incident.

Mentions are switched off (`allowed_mentions: {parse: []}`), so an `@everyone` in a
site's error text pings nobody. The request asks Discord to confirm the message was
stored (`?wait=true`). The webhook URL carries its token, so it comes only from the
variable `url_env` names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wac.alerts.messages import Notification, encoder
from wac.alerts.notifiers import Notifier, reject_unknown
from wac.alerts.notifiers.http import (
    Outgoing,
    RequestNotifier,
    client_from_config,
    endpoint,
    host_of,
    secret_parts,
    with_query,
)
from wac.alerts.notifiers.render import COLOURS, clip, facts, headline, link
from wac.alerts.notifiers.settings import optional_text, webhook_url
from wac.errors import ConfigError

# Documented embed limits.
MAX_TITLE = 256
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_USERNAME = 80
# The text is cut shorter than an embed allows, so that the whole embed stays within
# the 6,000 characters Discord accepts for all of its text.
MAX_TEXT = 2000
_KEYS = {"url_env", "username", "avatar_url", "timeout", "ca_file"}


@dataclass(eq=False, repr=False)
class DiscordNotifier(RequestNotifier):
    url: str  # carries the webhook's token
    username: str | None
    avatar_url: str | None

    def describe(self) -> str:
        return f"discord webhook to {host_of(self.url)}"

    def embed(self, notification: Notification) -> dict[str, Any]:
        rows = facts(notification)
        embed: dict[str, Any] = {
            "title": clip(headline(notification), MAX_TITLE),
            "description": clip(notification.text, MAX_TEXT),
            "color": COLOURS[notification.kind],
            "timestamp": notification.at.isoformat(),
            "fields": [
                {
                    "name": clip(label, MAX_FIELD_NAME),
                    "value": clip(value, MAX_FIELD_VALUE),
                    "inline": label not in ("Cause", "URL"),
                }
                for label, value in rows[:MAX_FIELDS]
            ],
            "footer": {"text": "wac"},
        }
        href = link(notification)
        if href:
            embed["url"] = href
        return embed

    def message(self, notification: Notification) -> dict[str, Any]:
        message: dict[str, Any] = {
            "embeds": [self.embed(notification)],
            "allowed_mentions": {"parse": []},
        }
        if self.username:
            message["username"] = self.username
        if self.avatar_url:
            message["avatar_url"] = self.avatar_url
        return message

    def request(self, notification: Notification) -> Outgoing:
        return Outgoing(self.url, encoder.encode(self.message(notification)))


def from_config(name: str, spec: Mapping[str, Any], env: Mapping[str, str], where: str) -> Notifier:
    url = webhook_url(spec, env, where, "Discord webhook URL")
    reject_unknown(spec, _KEYS, where)
    username = optional_text(spec, "username", where, MAX_USERNAME)
    if username and any(word in username.lower() for word in ("discord", "clyde")):
        raise ConfigError(
            f"{where}: username must not contain 'discord' or 'clyde' (Discord "
            "refuses such webhook names)"
        )
    avatar = spec.get("avatar_url")
    if avatar is not None:
        avatar = endpoint(avatar, where, "avatar_url", secret_url=False, sends_secret=False)
    return DiscordNotifier(
        name,
        client_from_config(spec, where, secret_parts(url)),
        with_query(url, "wait", "true"),
        username,
        avatar,
    )
