"""The per-target state machine: pure functions over a `TargetState`, no I/O.

- Each monitor location counts consecutive failures and successes of its checks. A
  location is down after `failure_threshold` failures in a row, up again after
  `success_threshold` successes in a row, and keeps its status in between.
- The target is down when at least `Rules.needed(active)` locations are down, where
  the active locations are those whose last check is within `location_expiry` of the
  target's newest check. It is up again when fewer are down (and one is up).
- `plan_notifications` decides what to tell people, by comparing what they were told
  (`announced`) with the truth (`incident`): outside maintenance, a new incident gets
  a DOWN, an announced incident that has ended gets an UP, one still open a reminder
  every `reminder_interval`. In maintenance nothing is planned; when it ends, the
  difference (if any) is announced, so an outage that outlasts its window is not
  hidden, and one that began and ended inside it is never announced.

The state is persisted as JSON (msgspec) in `alert_state`, in the same transaction as
the consumer offsets, so replaying the topic from those offsets rebuilds it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import msgspec

from wac.alerts.config import Rules
from wac.result import CheckResult

Status = Literal["unknown", "up", "down"]


class LocationState(msgspec.Struct, kw_only=True):
    status: Status = "unknown"
    failures: int = 0  # consecutive, capped at the largest threshold
    successes: int = 0
    streak_started: datetime | None = None  # first check of the current streak
    last_at: datetime | None = None
    cause: str | None = None  # of the last failed check


class Incident(msgspec.Struct, kw_only=True):
    id: int
    started: datetime  # first failed check of the streak that made it
    confirmed_at: datetime  # the check that made the target down
    cause: str
    locations: list[str]
    ended: datetime | None = None  # first good check of the streak that ended it
    recovered_at: datetime | None = None  # the check that made the target up


class TargetState(msgspec.Struct, kw_only=True):
    target: str
    url: str = ""
    status: Status = "unknown"
    locations: dict[str, LocationState] = msgspec.field(default_factory=dict)
    incident: Incident | None = None  # open incident
    announced: Incident | None = None  # incident people were told is down, not yet up
    reminders: int = 0
    next_reminder_at: datetime | None = None
    cert_expires_at: datetime | None = None
    cert_warned_days: int | None = None  # smallest threshold warned for that certificate

    def open_incident(self, incident_id: int, change: WentDown) -> Incident:
        self.incident = Incident(
            id=incident_id,
            started=change.started,
            confirmed_at=change.confirmed_at,
            cause=change.cause,
            locations=list(change.locations),
        )
        return self.incident

    def close_incident(self, change: WentUp) -> Incident:
        assert self.incident is not None
        closed = msgspec.structs.replace(
            self.incident, ended=change.ended, recovered_at=change.confirmed_at
        )
        self.incident = None
        if self.announced is not None and self.announced.id == closed.id:
            self.announced = closed
        return closed

    def needs_attention(self) -> bool:
        """True when a tick may have something to plan (reminders, end of maintenance)."""
        return self.incident is not None or self.announced is not None


@dataclass(frozen=True)
class WentDown:
    started: datetime
    confirmed_at: datetime
    cause: str
    locations: tuple[str, ...]


@dataclass(frozen=True)
class WentUp:
    ended: datetime
    confirmed_at: datetime


@dataclass(frozen=True)
class LocationsChanged:
    locations: tuple[str, ...]


@dataclass(frozen=True)
class CertWarning:
    threshold: int
    days_left: float
    expires_at: datetime


@dataclass(frozen=True)
class Planned:
    kind: Literal["down", "up", "reminder"]
    incident: Incident
    seq: int
    at: datetime


Change = WentDown | WentUp | LocationsChanged


def cause_of(result: CheckResult) -> str:
    """Why the check failed, in one line; it names the probe when it is not HTTP's
    (`icmp probe, packet_loss: 3 of 3 echo requests ... unanswered`)."""
    probe = result.probe_name
    named = "" if probe == "http" else f"{probe} probe, "
    if result.error is not None:
        return f"{named}{result.error.kind}: {result.error.message}"
    if result.status_code is not None:
        return f"check failed with HTTP status {result.status_code}"
    return f"{probe} check failed"


def apply_result(state: TargetState, result: CheckResult, rules: Rules) -> Change | None:
    """Count one check; returns the target's change of status, if any."""
    state.url = result.url
    at = result.checked_at
    location = state.locations.get(result.monitor)
    if location is None:
        location = state.locations[result.monitor] = LocationState()
    cap = max(rules.failure_threshold, rules.success_threshold)
    if result.ok:
        if location.successes == 0:
            location.streak_started = at
        location.successes = min(location.successes + 1, cap)
        location.failures = 0
        if location.successes >= rules.success_threshold:
            location.status = "up"
    else:
        if location.failures == 0:
            location.streak_started = at
        location.failures = min(location.failures + 1, cap)
        location.successes = 0
        location.cause = cause_of(result)
        if location.failures >= rules.failure_threshold:
            location.status = "down"
    if location.last_at is None or at > location.last_at:
        location.last_at = at

    newest = max(loc.last_at for loc in state.locations.values() if loc.last_at is not None)
    horizon = newest - timedelta(seconds=rules.location_expiry)
    active = {
        name: loc
        for name, loc in state.locations.items()
        if loc.last_at is not None and loc.last_at >= horizon
    }
    down = sorted(name for name, loc in active.items() if loc.status == "down")
    if len(down) >= rules.needed(len(active)):
        if state.status != "down":
            state.status = "down"
            starts = [active[n].streak_started for n in down]
            started = min(s for s in starts if s is not None) if any(starts) else at
            tipping = location if location.status == "down" else active[down[0]]
            return WentDown(
                started=started,
                confirmed_at=at,
                cause=tipping.cause or cause_of(result),
                locations=tuple(down),
            )
        if state.incident is not None and not set(down) <= set(state.incident.locations):
            return LocationsChanged(tuple(sorted(set(down) | set(state.incident.locations))))
        return None
    if state.status == "down":
        if any(loc.status == "up" for loc in active.values()):
            state.status = "up"
            ended = location.streak_started if result.ok and location.streak_started else at
            return WentUp(ended=ended, confirmed_at=at)
        return None
    if state.status == "unknown" and any(loc.status == "up" for loc in active.values()):
        state.status = "up"
    return None


def check_certificate(state: TargetState, result: CheckResult, rules: Rules) -> CertWarning | None:
    """A warning when the certificate crossed a threshold not yet warned about.

    The caller records `cert_warned_days = warning.threshold` once the warning is
    queued; a warning held back (maintenance) comes again with the next check.
    """
    expires = result.tls_expires_at
    if expires is None or not rules.cert_expiry_days:
        return None
    if state.cert_expires_at != expires:
        state.cert_expires_at = expires
        state.cert_warned_days = None
    days_left = (expires - result.checked_at).total_seconds() / 86400
    crossed = [d for d in rules.cert_expiry_days if days_left <= d]
    if not crossed:
        return None
    threshold = min(crossed)
    if state.cert_warned_days is not None and state.cert_warned_days <= threshold:
        return None
    return CertWarning(threshold=threshold, days_left=days_left, expires_at=expires)


def plan_notifications(
    state: TargetState, rules: Rules, now: datetime, silenced: bool
) -> list[Planned]:
    """What to tell people now, given what they were told; updates `announced`."""
    if silenced:
        return []
    planned: list[Planned] = []
    interval = rules.reminder_interval
    announced = state.announced
    if announced is not None and (state.incident is None or state.incident.id != announced.id):
        planned.append(Planned("up", announced, 0, announced.recovered_at or now))
        state.announced = None
        state.next_reminder_at = None
        state.reminders = 0
    incident = state.incident
    if incident is None:
        return planned
    if state.announced is None:
        planned.append(Planned("down", incident, 0, incident.confirmed_at))
        state.announced = msgspec.structs.replace(incident)
        state.reminders = 0
        state.next_reminder_at = now + timedelta(seconds=interval) if interval else None
    elif interval is None:
        state.next_reminder_at = None
    elif state.next_reminder_at is None:
        state.next_reminder_at = now + timedelta(seconds=interval)
    elif now >= state.next_reminder_at:
        state.reminders += 1
        planned.append(Planned("reminder", incident, state.reminders, now))
        state.next_reminder_at = now + timedelta(seconds=interval)
    return planned


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(TargetState)


def dump(state: TargetState) -> bytes:
    return _encoder.encode(state)


def load(raw: bytes | str) -> TargetState:
    return _decoder.decode(raw)
