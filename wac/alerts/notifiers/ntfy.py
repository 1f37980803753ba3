"""ntfy: a message with a title, a priority and tags, published as JSON to the server root.

JSON rather than headers, because header values cannot carry the non-ASCII of a
site's error text. On ntfy.sh a topic name is as good as a password (whoever knows it
reads the messages): give it through `topic_env` there, or `topic` on a server with
access control, where `token_env` names the variable holding an access token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wac.alerts.messages import Notification, encoder
from wac.alerts.notifiers import Notifier, from_env, reject_unknown
from wac.alerts.notifiers.http import (
    Outgoing,
    RequestNotifier,
    client_from_config,
    host_of,
)
from wac.alerts.notifiers.render import clip, facts, headline, link
from wac.alerts.notifiers.settings import api_url, choice, optional_secret
from wac.errors import ConfigError

DEFAULT_API_URL = "https://ntfy.sh"
TOPIC = re.compile(r"^[-_A-Za-z0-9]{1,64}$")
PRIORITIES: dict[object, int] = {
    1: 1, 2: 2, 3: 3, 4: 4, 5: 5,
    "min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5,
}  # fmt: skip
# Tags that are emoji short codes show as the emoji in front of the title.
EMOJI = {"down": "rotating_light", "up": "white_check_mark", "reminder": "warning",
         "certificate": "lock"}  # fmt: skip
MAX_MESSAGE_BYTES = 3500  # the server's default limit is 4,096 bytes
_KEYS = {"api_url", "topic", "topic_env", "token_env", "priority", "timeout", "ca_file"}


def clip_bytes(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8, cut between characters, with an ellipsis when cut."""
    if len(text.encode()) <= limit:
        return text
    cut = text.encode()[: limit - 3].decode("utf-8", "ignore")
    return cut + "…"


@dataclass(eq=False, repr=False, kw_only=True)
class NtfyNotifier(RequestNotifier):
    api_url: str
    topic: str  # a public server's topic name is its only secret
    token: str | None
    priority: int

    def describe(self) -> str:
        auth = "with a token" if self.token else "without a token"
        return f"ntfy to {host_of(self.api_url)} ({auth}, priority {self.priority})"

    def message(self, notification: Notification) -> dict[str, Any]:
        lines = [notification.text, ""] + [f"{k}: {v}" for k, v in facts(notification)]
        urgent = notification.kind in ("down", "reminder")
        tags = [EMOJI[notification.kind], "wac"]
        if notification.incident is not None:
            tags.append(f"incident-{notification.incident.id}")
        message: dict[str, Any] = {
            "topic": self.topic,
            "title": clip(headline(notification), 250),
            "message": clip_bytes("\n".join(lines), MAX_MESSAGE_BYTES),
            "priority": self.priority if urgent else 3,
            "tags": tags,
        }
        href = link(notification)
        if href:
            message["click"] = href
        return message

    def request(self, notification: Notification) -> Outgoing:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = encoder.encode(self.message(notification))
        return Outgoing(f"{self.api_url}/", body, headers=headers)


def from_config(name: str, spec: Mapping[str, Any], env: Mapping[str, str], where: str) -> Notifier:
    token = optional_secret(spec, "token", env, where, "ntfy access token")
    reject_unknown(spec, _KEYS, where)
    if ("topic" in spec) == ("topic_env" in spec):
        raise ConfigError(f"{where}: give the topic as topic or as topic_env (one of them)")
    if "topic" in spec:
        topic = spec["topic"]
        if not isinstance(topic, str) or not TOPIC.match(topic):
            raise ConfigError(
                f"{where}: topic must be 1 to 64 letters, digits, - or _, got {topic!r}"
            )
    else:
        topic = from_env(spec, "topic_env", env, where) or ""
        if not TOPIC.match(topic):
            raise ConfigError(
                f"{where}: the topic in {spec['topic_env']} must be 1 to 64 letters, digits, - or _"
            )
    secrets = [token] if token else []
    if "topic_env" in spec:
        secrets.append(topic)
    return NtfyNotifier(
        name,
        client_from_config(spec, where, secrets),
        api_url=api_url(spec, DEFAULT_API_URL, where, sends_secret=token is not None),
        topic=topic,
        token=token,
        priority=choice(spec, "priority", PRIORITIES, "high", where),
    )
