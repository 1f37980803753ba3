"""Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received").

Posts a message whose one attachment is an Adaptive Card (version 1.2, which Teams
renders on desktop, web and mobile): a coloured headline, the text, a fact set naming
the incident, and a button to the checked URL. The workflow's URL carries its
signature (`sig=`), so it comes only from the variable `url_env` names.
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
    host_of,
    secret_parts,
)
from wac.alerts.notifiers.render import clip, facts, headline, link
from wac.alerts.notifiers.settings import webhook_url

CARD_VERSION = "1.2"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# Container styles of Adaptive Cards 1.2.
STYLES = {"down": "attention", "up": "good", "reminder": "warning", "certificate": "warning"}
_KEYS = {"url_env", "timeout", "ca_file"}


@dataclass(eq=False, repr=False)
class TeamsNotifier(RequestNotifier):
    url: str  # carries the workflow's signature

    def describe(self) -> str:
        return f"teams workflow webhook to {host_of(self.url)}"

    def card(self, notification: Notification) -> dict[str, Any]:
        card: dict[str, Any] = {
            "$schema": CARD_SCHEMA,
            "type": "AdaptiveCard",
            "version": CARD_VERSION,
            "body": [
                {
                    "type": "Container",
                    "style": STYLES[notification.kind],
                    "items": [
                        {
                            "type": "TextBlock",
                            "text": clip(headline(notification), 200),
                            "size": "Medium",
                            "weight": "Bolder",
                            "wrap": True,
                        }
                    ],
                },
                {"type": "TextBlock", "text": clip(notification.text, 2000), "wrap": True},
                {
                    "type": "FactSet",
                    "facts": [{"title": k, "value": v} for k, v in facts(notification)],
                },
            ],
        }
        href = link(notification)
        if href:
            card["actions"] = [
                {"type": "Action.OpenUrl", "title": "Open the checked URL", "url": href}
            ]
        return card

    def message(self, notification: Notification) -> dict[str, Any]:
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": CARD_CONTENT_TYPE,
                    "contentUrl": None,
                    "content": self.card(notification),
                }
            ],
        }

    def request(self, notification: Notification) -> Outgoing:
        return Outgoing(self.url, encoder.encode(self.message(notification)))


def from_config(name: str, spec: Mapping[str, Any], env: Mapping[str, str], where: str) -> Notifier:
    url = webhook_url(spec, env, where, "Teams workflow URL")
    reject_unknown(spec, _KEYS, where)
    return TeamsNotifier(name, client_from_config(spec, where, secret_parts(url)), url)
