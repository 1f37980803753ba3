"""PagerDuty Events API v2: `trigger` on DOWN, `resolve` with the same `dedup_key` on UP.

The `dedup_key` is `<key_prefix>incident-<id>` (default `wac-incident-7`), so PagerDuty
folds a repeated trigger into its alert and the resolve closes exactly that one.
Reminders send nothing: PagerDuty re-notifies and escalates by itself. A certificate
warning is a `warning` trigger keyed by target and expiry date, left for a person to
resolve once the certificate is renewed. The routing key (the integration key of an
"Events API v2" integration) comes from the variable `routing_key_env` names.
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
)
from wac.alerts.notifiers.render import clip, facts, link, source, vendor_key
from wac.alerts.notifiers.settings import (
    api_url,
    choice,
    key_prefix,
    names,
    optional_text,
    required_secret,
)
from wac.errors import ConfigError

DEFAULT_API_URL = "https://events.pagerduty.com"
ENQUEUE_PATH = "/v2/enqueue"
SEVERITIES = ("critical", "error", "warning", "info")
ROUTING_KEY_LENGTH = 32
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
_KEYS = {"routing_key_env", "api_url", "severity", "key_prefix", "client_url", "timeout", "ca_file"}


@dataclass(eq=False, repr=False, kw_only=True)
class PagerDutyNotifier(RequestNotifier):
    routing_key: str
    url: str  # the Events API's enqueue URL
    severity: str
    key_prefix: str
    client_url: str | None

    def describe(self) -> str:
        return f"pagerduty events to {host_of(self.url)} (severity {self.severity})"

    def event(self, notification: Notification) -> dict[str, Any] | None:
        """The Events API v2 event for it; None for a reminder."""
        if notification.kind == "reminder":
            return None
        event: dict[str, Any] = {
            "routing_key": self.routing_key,
            "dedup_key": vendor_key(notification, self.key_prefix, MAX_DEDUP_KEY),
        }
        if notification.kind == "up":
            event["event_action"] = "resolve"
            return event
        certificate = notification.kind == "certificate"
        event["event_action"] = "trigger"
        event["payload"] = {
            "summary": clip(notification.text, MAX_SUMMARY),
            "source": source(notification),
            "severity": "warning" if certificate else self.severity,
            "timestamp": notification.at.isoformat(),
            "component": notification.target,
            "class": "certificate" if certificate else "availability",
            "custom_details": dict(facts(notification)),
        }
        event["client"] = "wac"
        if self.client_url:
            event["client_url"] = self.client_url
        href = link(notification)
        if href:
            event["links"] = [{"href": href, "text": "Checked URL"}]
        return event

    def request(self, notification: Notification) -> Outgoing | None:
        event = self.event(notification)
        return None if event is None else Outgoing(self.url, encoder.encode(event))


def from_config(name: str, spec: Mapping[str, Any], env: Mapping[str, str], where: str) -> Notifier:
    routing_key = required_secret(spec, "routing_key", env, where, "PagerDuty routing key")
    reject_unknown(spec, _KEYS, where)
    if len(routing_key) != ROUTING_KEY_LENGTH:
        raise ConfigError(
            f"{where}: the routing key in {spec['routing_key_env']} has {len(routing_key)} "
            f"characters, not {ROUTING_KEY_LENGTH}: use the Integration Key of an "
            "Events API v2 integration"
        )
    client_url = optional_text(spec, "client_url", where, 1024)
    return PagerDutyNotifier(
        name,
        client_from_config(spec, where, [routing_key]),
        routing_key=routing_key,
        url=api_url(spec, DEFAULT_API_URL, where, sends_secret=True) + ENQUEUE_PATH,
        severity=choice(spec, "severity", names(SEVERITIES), "critical", where),
        key_prefix=key_prefix(spec, where),
        client_url=client_url,
    )
