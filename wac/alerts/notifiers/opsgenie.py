"""Opsgenie Alert API: create an alert on DOWN with `alias` = the incident, close it on UP.

The alias is `<key_prefix>incident-<id>` (default `wac-incident-7`): Opsgenie folds a
repeated create into the open alert, and the recovery closes exactly that alert
(`POST /v2/alerts/<alias>/close?identifierType=alias`). Reminders send nothing:
Opsgenie re-notifies and escalates by itself. A certificate warning is a P3 alert keyed
by target and expiry date, left open for a person. The API key (of an API
integration) comes from the variable `api_key_env` names; EU accounts set
`api_url: https://api.eu.opsgenie.com`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from wac.alerts.messages import Notification, encoder
from wac.alerts.notifiers import Notifier, reject_unknown
from wac.alerts.notifiers.http import (
    Outgoing,
    RequestNotifier,
    client_from_config,
    host_of,
)
from wac.alerts.notifiers.render import clip, facts, vendor_key
from wac.alerts.notifiers.settings import (
    api_url,
    choice,
    key_prefix,
    names,
    required_secret,
    text_list,
)
from wac.errors import ConfigError

DEFAULT_API_URL = "https://api.opsgenie.com"
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
RESPONDER_TYPES = ("team", "user", "escalation", "schedule")
# Documented limits of the create request.
MAX_MESSAGE = 130
MAX_ALIAS = 512
MAX_DESCRIPTION = 15000
MAX_ENTITY = 512
MAX_TAGS = 20
MAX_TAG = 50
MAX_NOTE = 25000
MAX_DETAIL = 1000  # per value: the details may hold 8,000 characters in all
_KEYS = {
    "api_key_env",
    "api_url",
    "priority",
    "tags",
    "responders",
    "key_prefix",
    "timeout",
    "ca_file",
}


@dataclass(eq=False, repr=False, kw_only=True)
class OpsgenieNotifier(RequestNotifier):
    api_key: str
    api_url: str
    priority: str
    tags: list[str]
    responders: list[dict[str, str]]
    key_prefix: str

    def describe(self) -> str:
        return f"opsgenie alerts to {host_of(self.api_url)} (priority {self.priority})"

    def alias(self, notification: Notification) -> str:
        return vendor_key(notification, self.key_prefix, MAX_ALIAS)

    def create(self, notification: Notification) -> dict[str, Any]:
        certificate = notification.kind == "certificate"
        rows = facts(notification)
        body: dict[str, Any] = {
            "message": clip(notification.text, MAX_MESSAGE),
            "alias": self.alias(notification),
            "description": clip(
                notification.text + "\n\n" + "\n".join(f"{k}: {v}" for k, v in rows),
                MAX_DESCRIPTION,
            ),
            "tags": ["wac", *self.tags][:MAX_TAGS],
            "details": {k: clip(v, MAX_DETAIL) for k, v in rows},
            "entity": clip(notification.target, MAX_ENTITY),
            "source": "wac",
            "priority": "P3" if certificate else self.priority,
        }
        if self.responders:
            body["responders"] = self.responders
        return body

    def request(self, notification: Notification) -> Outgoing | None:
        headers = {"Authorization": f"GenieKey {self.api_key}"}
        if notification.kind == "reminder":
            return None
        if notification.kind == "up":
            alias = quote(self.alias(notification), safe="")
            close = {"source": "wac", "note": clip(notification.text, MAX_NOTE)}
            url = f"{self.api_url}/v2/alerts/{alias}/close?identifierType=alias"
            return Outgoing(url, encoder.encode(close), headers=headers)
        body = encoder.encode(self.create(notification))
        return Outgoing(f"{self.api_url}/v2/alerts", body, headers=headers)


def _responders(raw: object, where: str) -> list[dict[str, str]]:
    if raw is None:
        return []
    wrong = ConfigError(
        f"{where}: responders must be a list of {{type: team|user|escalation|schedule, "
        "name: ...}} (or id:, or username: for a user)"
    )
    if not isinstance(raw, list):
        raise wrong
    responders = []
    for item in raw:
        if not isinstance(item, Mapping) or item.get("type") not in RESPONDER_TYPES:
            raise wrong
        named = {k: v for k, v in item.items() if k in ("id", "name", "username")}
        if (
            len(named) != 1
            or set(item) - {"type", "id", "name", "username"}
            or not all(isinstance(v, str) and v for v in named.values())
            or ("username" in named and item["type"] != "user")
        ):
            raise wrong
        responders.append({"type": str(item["type"]), **{k: str(v) for k, v in named.items()}})
    return responders


def from_config(name: str, spec: Mapping[str, Any], env: Mapping[str, str], where: str) -> Notifier:
    api_key = required_secret(spec, "api_key", env, where, "Opsgenie API key")
    reject_unknown(spec, _KEYS, where)
    return OpsgenieNotifier(
        name,
        client_from_config(spec, where, [api_key]),
        api_key=api_key,
        api_url=api_url(spec, DEFAULT_API_URL, where, sends_secret=True),
        priority=choice(spec, "priority", names(PRIORITIES), "P1", where),
        tags=text_list(spec, "tags", where, most=MAX_TAGS - 1, limit=MAX_TAG),
        responders=_responders(spec.get("responders"), where),
        key_prefix=key_prefix(spec, where),
    )
