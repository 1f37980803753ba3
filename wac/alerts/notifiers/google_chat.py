"""Google Chat incoming webhook: a `cardsV2` card, threaded per incident.

Every message of one incident carries the same `thread.threadKey` (`wac-incident-7`),
and the request asks Chat to reply in that thread (`messageReplyOption=
REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD`), so the recovery appears under its DOWN. The
webhook URL carries its `key` and `token`, so it comes only from the variable
`url_env` names.
"""

from __future__ import annotations

import html
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
    secret_parts,
    with_query,
)
from wac.alerts.notifiers.render import clip, facts, headline, link, vendor_key
from wac.alerts.notifiers.settings import webhook_url

REPLY_OPTION = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
MAX_THREAD_KEY = 128
_KEYS = {"url_env", "timeout", "ca_file"}


@dataclass(eq=False, repr=False)
class GoogleChatNotifier(RequestNotifier):
    url: str  # carries the webhook's key and token

    def describe(self) -> str:
        return f"google chat webhook to {host_of(self.url)}"

    def card(self, notification: Notification) -> dict[str, Any]:
        widgets: list[dict[str, Any]] = [
            {"textParagraph": {"text": html.escape(clip(notification.text, 2000), quote=False)}}
        ]
        widgets += [
            {
                "decoratedText": {
                    "topLabel": label,
                    "text": html.escape(value, quote=False),
                    "wrapText": True,
                }
            }
            for label, value in facts(notification)
            if label != "URL"
        ]
        href = link(notification)
        if href:
            button = {"text": "Open the checked URL", "onClick": {"openLink": {"url": href}}}
            widgets.append({"buttonList": {"buttons": [button]}})
        return {
            "header": {"title": clip(headline(notification), 200), "subtitle": "wac"},
            "sections": [{"widgets": widgets}],
        }

    def message(self, notification: Notification) -> dict[str, Any]:
        text = headline(notification)
        if notification.incident is not None:
            text += f" (incident {notification.incident.id})"
        return {
            "text": clip(text, 300),
            "cardsV2": [{"cardId": f"wac-{notification.id}", "card": self.card(notification)}],
            "thread": {"threadKey": vendor_key(notification, "wac-", MAX_THREAD_KEY)},
        }

    def request(self, notification: Notification) -> Outgoing:
        return Outgoing(
            self.url,
            encoder.encode(self.message(notification)),
            content_type="application/json; charset=UTF-8",
        )


def from_config(name: str, spec: Mapping[str, Any], env: Mapping[str, str], where: str) -> Notifier:
    url = webhook_url(spec, env, where, "Google Chat webhook URL")
    reject_unknown(spec, _KEYS, where)
    return GoogleChatNotifier(
        name,
        client_from_config(spec, where, secret_parts(url)),
        with_query(url, "messageReplyOption", REPLY_OPTION),
    )
