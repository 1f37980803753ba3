"""The outbox rows of a decision: notifications fanned out to their receivers, and events.

Pure: each function builds the message (wac.alerts.messages) of one decision of the
state machine and the `alert_outbox` rows that carry it, keyed so that a decision made
twice (a batch replayed after a crash) is queued once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from wac.alerts import state as st
from wac.alerts.db import EVENTS_CHANNEL, OutboxRow
from wac.alerts.messages import (
    CertificateInfo,
    Event,
    EventType,
    IncidentInfo,
    Notification,
    certificate_key,
    encoder,
    key_id,
    notification_key,
    render_text,
)


def notification(
    ts: st.TargetState, planned: st.Planned, receivers: Sequence[str]
) -> tuple[Notification, list[OutboxRow]]:
    """A planned down, up or reminder, and its rows (one per receiver)."""
    key = notification_key(planned.kind, planned.incident.id, planned.seq)
    info = incident_info(planned.incident)
    message = Notification(
        id=key_id(key),
        kind=planned.kind,
        target=ts.target,
        url=ts.url,
        at=planned.at,
        text=render_text(planned.kind, ts.target, planned.at, info, reminder=planned.seq or None),
        incident=info,
        reminder=planned.seq if planned.kind == "reminder" else None,
    )
    rows = _fan_out(
        ts.target, key, planned.kind, planned.seq, planned.incident.id, message, receivers
    )
    return message, rows


def certificate_notification(
    ts: st.TargetState, warning: st.CertWarning, at: datetime, receivers: Sequence[str]
) -> tuple[Notification, list[OutboxRow]]:
    """A certificate about to expire, and its rows (one per receiver)."""
    key = certificate_key(ts.target, warning.expires_at, warning.threshold)
    certificate = certificate_info(warning)
    message = Notification(
        id=key_id(key),
        kind="certificate",
        target=ts.target,
        url=ts.url,
        at=at,
        text=render_text("certificate", ts.target, at, None, certificate=certificate),
        certificate=certificate,
    )
    rows = _fan_out(ts.target, key, "certificate", warning.threshold, None, message, receivers)
    return message, rows


def _fan_out(
    target: str,
    key: str,
    kind: str,
    seq: int,
    incident_id: int | None,
    message: Notification,
    receivers: Sequence[str],
) -> list[OutboxRow]:
    payload = encoder.encode(message)
    return [OutboxRow(key, to, target, incident_id, kind, seq, payload) for to in receivers]


def incident_event(
    kind: EventType, ts: st.TargetState, incident: st.Incident, at: datetime
) -> OutboxRow:
    """An incident opened or resolved, for the events topic."""
    key = f"incident:{incident.id}:{kind}"
    event = Event(
        id=key_id(key),
        type=kind,
        target=ts.target,
        url=ts.url,
        at=at,
        incident=incident_info(incident),
    )
    return OutboxRow(key, EVENTS_CHANNEL, ts.target, incident.id, kind, 0, encoder.encode(event))


def certificate_event(ts: st.TargetState, warning: st.CertWarning, at: datetime) -> OutboxRow:
    """A certificate about to expire, for the events topic."""
    key = certificate_key(ts.target, warning.expires_at, warning.threshold)
    event = Event(
        id=key_id(f"event:{key}"),
        type="certificate_expiring",
        target=ts.target,
        url=ts.url,
        at=at,
        certificate=certificate_info(warning),
    )
    return OutboxRow(
        key,
        EVENTS_CHANNEL,
        ts.target,
        None,
        "certificate_expiring",
        warning.threshold,
        encoder.encode(event),
    )


def incident_info(incident: st.Incident) -> IncidentInfo:
    return IncidentInfo(
        id=incident.id,
        started=incident.started,
        ended=incident.ended,
        cause=incident.cause,
        locations=list(incident.locations),
    )


def certificate_info(warning: st.CertWarning) -> CertificateInfo:
    return CertificateInfo(
        expires_at=warning.expires_at,
        days_left=round(warning.days_left, 3),
        threshold_days=warning.threshold,
    )
