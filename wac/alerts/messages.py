"""What notifiers deliver and what the events topic carries: wire forms and texts.

A `Notification` is built once, when the state change is committed, and stored in the
outbox; every attempt to deliver it sends exactly the same body. Its `id` is a UUID
derived from the outbox key (incident, kind, sequence), so a receiver can drop a
repeat (after a crash between delivering and marking it sent) by that id alone.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Literal

import msgspec

Kind = Literal["down", "up", "reminder", "certificate"]
EventType = Literal["incident_opened", "incident_resolved", "certificate_expiring"]

# Fixed namespace for the ids derived from outbox keys (uuid5).
KEY_NAMESPACE = uuid.UUID("6f6d1f0e-7a0c-4bb8-9d38-5a1e3c0a7a11")


class IncidentInfo(msgspec.Struct, kw_only=True):
    id: int
    started: datetime
    ended: datetime | None = None
    cause: str
    locations: list[str]


class CertificateInfo(msgspec.Struct, kw_only=True):
    expires_at: datetime
    days_left: float
    threshold_days: int


class Notification(msgspec.Struct, kw_only=True):
    """The JSON body of the generic webhook; the other notifiers render `text`."""

    v: Literal[1] = 1
    id: str
    kind: Kind
    target: str
    url: str
    at: datetime  # when the change was confirmed (or the reminder was due)
    text: str
    incident: IncidentInfo | None = None
    reminder: int | None = None
    certificate: CertificateInfo | None = None


class Event(msgspec.Struct, kw_only=True):
    """One message on the events topic (key = target id)."""

    v: Literal[1] = 1
    id: str
    type: EventType
    target: str
    url: str
    at: datetime
    incident: IncidentInfo | None = None
    certificate: CertificateInfo | None = None


def key_id(dedup_key: str) -> str:
    return str(uuid.uuid5(KEY_NAMESPACE, dedup_key))


def notification_key(kind: Kind, incident_id: int, seq: int = 0) -> str:
    return f"incident:{incident_id}:{kind}:{seq}"


def certificate_key(target: str, expires_at: datetime, threshold: int) -> str:
    return f"certificate:{target}:{expires_at.isoformat()}:{threshold}"


def short_duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def render_text(
    kind: Kind,
    target: str,
    at: datetime,
    incident: IncidentInfo | None,
    reminder: int | None = None,
    certificate: CertificateInfo | None = None,
) -> str:
    """One line a person reads in Slack, a mail subject or a pager."""
    if kind == "certificate" and certificate is not None:
        return (
            f"CERTIFICATE {target}: expires in {certificate.days_left:.1f} days "
            f"({certificate.expires_at:%Y-%m-%d %H:%M} UTC)"
        )
    assert incident is not None
    where = ", ".join(incident.locations)
    since = f"{incident.started:%Y-%m-%d %H:%M:%S} UTC"
    if kind == "down":
        return f"DOWN {target}: {incident.cause} (since {since}, seen from {where})"
    if kind == "reminder":
        return (
            f"STILL DOWN {target} for {short_duration(at - incident.started)}: {incident.cause} "
            f"(reminder {reminder})"
        )
    ended = incident.ended or at
    return (
        f"UP {target}: recovered after {short_duration(ended - incident.started)} "
        f"(down since {since}: {incident.cause})"
    )


def subject(notification: Notification) -> str:
    return f"[wac] {notification.text}"[:200]


encoder = msgspec.json.Encoder()
notification_decoder = msgspec.json.Decoder(Notification)
event_decoder = msgspec.json.Decoder(Event)
