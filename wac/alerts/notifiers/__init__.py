"""Notifiers: one module per kind, all behind one interface.

A notifier turns a `Notification` into a delivery (an HTTP request, a mail) and
raises `DeliveryError` when it fails. Its error messages and `describe()` never
contain a secret: no HMAC key, no password, no webhook URL path (Slack's carries a
token), only the kind and the host.

A failure is retried with backoff until `give_up_after`, unless it is `permanent`: the
receiver refused the request itself (an HTTP 4xx other than 408 and 429: a bad key, an
unknown chat, a payload it rejects), which sending the same request again cannot
change. `retry_after` is the receiver's own "not before" (429 and Retry-After).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from wac.alerts.messages import Notification
from wac.errors import ConfigError
from wac.yaml_config import shown

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class DeliveryError(Exception):
    """A delivery that did not succeed; the message is safe to log."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Notifier(Protocol):
    name: str

    def send(self, notification: Notification) -> None:
        """Deliver it once; raise DeliveryError on failure (the caller retries)."""

    def describe(self) -> str:
        """A line for the log, without secrets: kind and destination host."""


NotifierFactory = Callable[[str, Mapping[str, Any], Mapping[str, str], str], Notifier]


def factories() -> dict[str, NotifierFactory]:
    from wac.alerts.notifiers import (
        discord,
        email,
        google_chat,
        ntfy,
        opsgenie,
        pagerduty,
        pushover,
        slack,
        teams,
        telegram,
        webhook,
    )

    return {
        "webhook": webhook.from_config,
        "slack": slack.from_config,
        "email": email.from_config,
        "pagerduty": pagerduty.from_config,
        "opsgenie": opsgenie.from_config,
        "teams": teams.from_config,
        "discord": discord.from_config,
        "telegram": telegram.from_config,
        "ntfy": ntfy.from_config,
        "pushover": pushover.from_config,
        "google_chat": google_chat.from_config,
    }


def build(name: str, spec: object, env: Mapping[str, str], where: str) -> Notifier:
    if not NAME.match(name):
        raise ConfigError(f"{where}: notifier name {shown(name)} must be letters, digits, - _ .")
    kinds = factories()
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected a mapping with type: one of {', '.join(kinds)}")
    kind = spec.get("type")
    if not isinstance(kind, str) or kind not in kinds:
        raise ConfigError(f"{where}: type must be one of {', '.join(kinds)}, got {shown(kind)}")
    return kinds[kind](name, {k: v for k, v in spec.items() if k != "type"}, env, where)


def reject_unknown(spec: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in spec:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {shown(key)}; allowed keys: type, "
                f"{', '.join(sorted(allowed))}"
            )


def from_env(spec: Mapping[str, Any], key: str, env: Mapping[str, str], where: str) -> str | None:
    """The value of the environment variable that `spec[key]` names (e.g. secret_env: X)."""
    variable = spec.get(key)
    if variable is None:
        return None
    if not isinstance(variable, str) or not variable:
        raise ConfigError(f"{where}: {key} must name an environment variable")
    value = env.get(variable)
    if not value:
        raise ConfigError(
            f"{where}: {key} names the environment variable {variable}, which is not set: "
            f"export {variable}=... (or put it in .env)"
        )
    return value


def string(spec: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = spec.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key} is required and must be a non-empty string")
    return value
