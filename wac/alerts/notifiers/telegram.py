"""Telegram Bot API `sendMessage`: an HTML-formatted message to a chat, group or channel.

The bot token is part of the request path (`/bot<token>/sendMessage`), so it comes
only from the variable `bot_token_env` names and no error or log line shows the path.
`chat_id` is a number (a user, a group: `-100...`) or a channel's `@username`;
`message_thread_id` posts into a topic of a forum group.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wac.alerts.messages import Notification, encoder
from wac.alerts.notifiers import Notifier, reject_unknown
from wac.alerts.notifiers.http import (
    Outgoing,
    RequestNotifier,
    client_from_config,
    host_of,
)
from wac.alerts.notifiers.render import clip, facts, headline
from wac.alerts.notifiers.settings import api_url, required_secret, whole_number
from wac.errors import ConfigError

DEFAULT_API_URL = "https://api.telegram.org"
MAX_TEXT = 4096  # after entity parsing, in UTF-16 code units
BOT_TOKEN = re.compile(r"^[0-9]+:[A-Za-z0-9_-]+$")
CHANNEL = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,}$")
_KEYS = {"bot_token_env", "chat_id", "message_thread_id", "api_url", "timeout", "ca_file"}


def utf16_length(text: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def clip_utf16(text: str, limit: int) -> str:
    """At most `limit` UTF-16 code units, with an ellipsis when cut."""
    if utf16_length(text) <= limit:
        return text
    kept, used = [], 0
    for char in text:
        size = 2 if ord(char) > 0xFFFF else 1
        if used + size > limit - 1:
            break
        kept.append(char)
        used += size
    return "".join(kept) + "…"


@dataclass(eq=False, repr=False, kw_only=True)
class TelegramNotifier(RequestNotifier):
    url: str  # the bot's sendMessage URL, which holds its token
    chat_id: int | str
    message_thread_id: int | None

    def describe(self) -> str:
        return f"telegram bot via {host_of(self.url)} to chat {self.chat_id}"

    def text(self, notification: Notification) -> str:
        """HTML: what is shown stays within Telegram's 4,096 characters."""
        pieces: list[tuple[str, bool]] = [
            (clip(headline(notification), 200), True),
            ("\n" + clip(notification.text, 1000) + "\n", False),
        ]
        for label, value in facts(notification):
            pieces += [("\n", False), (f"{label}:", True), (" " + value, False)]
        budget, out = MAX_TEXT, []
        for piece, bold in pieces:
            shown = clip_utf16(piece, budget)
            budget -= utf16_length(shown)
            escaped = html.escape(shown, quote=False)
            out.append(f"<b>{escaped}</b>" if bold else escaped)
            if budget <= 1:
                break
        return "".join(out)

    def message(self, notification: Notification) -> dict[str, Any]:
        message: dict[str, Any] = {
            "chat_id": self.chat_id,
            "text": self.text(notification),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        if self.message_thread_id is not None:
            message["message_thread_id"] = self.message_thread_id
        return message

    def request(self, notification: Notification) -> Outgoing:
        return Outgoing(self.url, encoder.encode(self.message(notification)))


def _chat_id(raw: object, where: str) -> int | str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"-?[0-9]+", raw):
        return int(raw)
    if isinstance(raw, str) and CHANNEL.match(raw):
        return raw
    raise ConfigError(
        f"{where}: chat_id must be a chat's number (e.g. -1001234567890) or a channel's "
        f"@username, got {raw!r}"
    )


def from_config(name: str, spec: Mapping[str, Any], env: Mapping[str, str], where: str) -> Notifier:
    token = required_secret(spec, "bot_token", env, where, "Telegram bot token")
    reject_unknown(spec, _KEYS, where)
    if not BOT_TOKEN.match(token):
        raise ConfigError(
            f"{where}: the value of {spec['bot_token_env']} does not look like a bot token "
            "(digits, a colon, then letters, digits, - and _): copy it from @BotFather"
        )
    if "chat_id" not in spec:
        raise ConfigError(f"{where}: chat_id is required: the chat, group or @channel to post to")
    base = api_url(spec, DEFAULT_API_URL, where, sends_secret=True)
    return TelegramNotifier(
        name,
        client_from_config(spec, where, [token, f"bot{token}"]),
        url=f"{base}/bot{token}/sendMessage",
        chat_id=_chat_id(spec["chat_id"], where),
        message_thread_id=whole_number(spec, "message_thread_id", where, 1, 2**31 - 1, None),
    )
