"""What the chat and push notifiers show: a headline, facts, a colour, the vendor keys.

Every message about an incident names it ("Incident: 7"), the UP as much as the DOWN,
so a reader (or a receiver) matches a recovery to its trigger. PagerDuty and Opsgenie
match them by key: `<key_prefix>incident-<id>`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from urllib.parse import urlsplit

from wac.alerts.messages import Notification, short_duration

HEADLINES = {"down": "DOWN", "up": "UP", "reminder": "STILL DOWN", "certificate": "CERTIFICATE"}
# Red, green, orange, amber: the usual meaning, readable on light and dark themes.
COLOURS = {"down": 0xD32F2F, "up": 0x2E7D32, "reminder": 0xF57C00, "certificate": 0xF9A825}
MAX_CAUSE_CHARS = 1000


def headline(notification: Notification) -> str:
    return f"{HEADLINES[notification.kind]} {notification.target}"


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def facts(notification: Notification) -> list[tuple[str, str]]:
    """Label and value pairs, each value non-empty, in reading order."""
    rows: list[tuple[str, str]] = []
    incident = notification.incident
    if incident is not None:
        rows.append(("Incident", str(incident.id)))
        rows.append(("Cause", clip(incident.cause, MAX_CAUSE_CHARS)))
        rows.append(("Started", when(incident.started)))
        if notification.kind == "up":
            ended = incident.ended or notification.at
            rows.append(("Ended", when(ended)))
            rows.append(("Duration", short_duration(ended - incident.started)))
        elif notification.kind == "reminder":
            rows.append(("Down for", short_duration(notification.at - incident.started)))
        rows.append(("Locations", ", ".join(incident.locations)))
    certificate = notification.certificate
    if certificate is not None:
        rows.append(("Expires", when(certificate.expires_at)))
        rows.append(("Days left", f"{certificate.days_left:.1f}"))
    if notification.url:
        rows.append(("URL", notification.url))
    # Vendors refuse blank values (Discord's fields, Teams' facts): a cause may be blank.
    return [(label, value.strip() or "-") for label, value in rows]


def link(notification: Notification) -> str | None:
    """The target's URL when it is one a chat client can open."""
    url = notification.url
    return url if urlsplit(url).scheme in ("http", "https") and len(url) <= 512 else None


def source(notification: Notification) -> str:
    """The affected system, for PagerDuty's `source`: the target's host or its id."""
    try:
        host = urlsplit(notification.url).hostname
    except ValueError:
        host = None
    return host or notification.target


def vendor_key(notification: Notification, prefix: str, limit: int) -> str:
    """The deduplication key: one per incident, or one per certificate expiry."""
    if notification.incident is not None:
        return f"{prefix}incident-{notification.incident.id}"
    assert notification.certificate is not None
    key = f"{prefix}certificate-{notification.target}-{notification.certificate.expires_at:%Y%m%d}"
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{prefix}certificate-{digest}"
