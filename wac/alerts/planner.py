"""`wac alert`'s planner: results and time → state changes, incidents, outbox rows. No I/O.

The planner holds the per-target states of the partitions its process owns and the
rules, and decides, for a batch of results (`plan_batch`) or a tick of the clock
(`plan_tick`), what one database transaction must hold: the states that changed, the
outbox rows (notifications and events), the offsets reached, the messages that are not
results, and the lines to log once it has committed.

Two things it needs from the database in the middle of a batch: the state of a target
it has not met yet, and the id of an incident it opens. It asks for them by yielding
an effect (`LoadState`, `OpenIncident`; `ChangeIncident` is a write whose place in the
order matters) and goes on with the answer; `run_plan` drives it with the function
that performs them. A test drives it with a dictionary.

Every change a batch makes to the states in memory can be undone (`rollback`): a
transaction that fails leaves the planner as it was before the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from wac.alerts import outbox_rows
from wac.alerts import state as st
from wac.alerts.config import AlertConfig
from wac.alerts.db import OutboxRow
from wac.alerts.maintenance import in_maintenance
from wac.result import BadMessage, CheckResult, read_result
from wac.runtime.dead_letters import Record, Rejected
from wac.runtime.outage import LogLine

_T = TypeVar("_T")


# --- effects: what the planner asks of the database ----------------------------------
@dataclass(frozen=True)
class LoadState:
    """The stored state of a target new to this process (answer: TargetState or None)."""

    target: str


@dataclass(frozen=True)
class OpenIncident:
    """A new incident, of the target's going down (answer: its id)."""

    target: str
    change: st.WentDown


@dataclass(frozen=True)
class ChangeIncident:
    """An open incident ended (`WentUp`), or its down locations changed."""

    incident_id: int
    change: st.WentUp | st.LocationsChanged


Effect = LoadState | OpenIncident | ChangeIncident
Planning = Generator[Effect, Any, _T]


def run_plan(planning: Planning[_T], perform: Callable[[Effect], Any]) -> _T:
    """Drive a plan: perform each effect it yields and send it the answer."""
    try:
        effect = next(planning)
        while True:
            effect = planning.send(perform(effect))
    except StopIteration as done:
        return done.value


# --- what one transaction holds ----------------------------------------------------
StateRow = tuple[str, str, int, bytes]  # target, topic, partition, state JSON


@dataclass
class Plan:
    outbox: list[OutboxRow] = field(default_factory=list)
    states: list[StateRow] = field(default_factory=list)
    offsets: dict[int, int] = field(default_factory=dict)  # partition -> next offset
    rejected: list[Rejected] = field(default_factory=list)
    lines: list[LogLine] = field(default_factory=list)  # to log once committed
    results: int = 0  # results read
    incidents: int = 0  # incidents opened


class Planner:
    def __init__(self, config: AlertConfig, topic: str, max_message_bytes: int) -> None:
        self.config = config
        self.topic = topic
        self.max_message_bytes = max_message_bytes
        self.states: dict[str, st.TargetState] = {}
        self.partition_of: dict[str, int] = {}
        # target -> (state JSON, partition) before the running transaction touched it;
        # None for a target the transaction brought into memory.
        self._undo: dict[str, tuple[bytes, int] | None] = {}

    # --- memory: partitions coming and going, transactions failing ------------------
    def adopt(self, loaded: dict[str, tuple[int, st.TargetState]]) -> None:
        """The states of partitions just assigned (target -> (partition, state))."""
        for target, (partition, target_state) in loaded.items():
            self.states[target] = target_state
            self.partition_of[target] = partition

    def forget(self, partitions: Iterable[int]) -> None:
        """The states of partitions revoked."""
        gone = set(partitions)
        for target in [t for t, p in self.partition_of.items() if p in gone]:
            self.states.pop(target, None)
            self.partition_of.pop(target, None)

    def begin(self) -> None:
        """A transaction starts: what it changes in memory can be undone from here."""
        self._undo = {}

    def rollback(self) -> None:
        """The transaction failed: back to the states as they were at `begin`."""
        for target, saved in self._undo.items():
            if saved is None:
                self.states.pop(target, None)
                self.partition_of.pop(target, None)
            else:
                self.states[target] = st.load(saved[0])
                self.partition_of[target] = saved[1]
        self._undo = {}

    def _remember(self, target: str) -> None:
        if target in self._undo:
            return
        current = self.states.get(target)
        self._undo[target] = (
            None if current is None else (st.dump(current), self.partition_of.get(target, -1))
        )

    # --- a batch of results ----------------------------------------------------------
    def plan_batch(self, batch: Sequence[Record], now: datetime) -> Planning[Plan]:
        plan = Plan()
        touched: dict[str, int] = {}
        for message in batch:
            partition, offset = message.partition(), message.offset()
            assert partition is not None and offset is not None
            plan.offsets[partition] = max(plan.offsets.get(partition, -1), offset + 1)
            try:
                result = read_result(message.value(), self.max_message_bytes)
            except BadMessage as exc:
                plan.rejected.append(Rejected.of(message, str(exc)))
                continue
            plan.results += 1
            self._remember(result.target)
            target_state = self.states.get(result.target)
            if target_state is None:
                # New to this process: known in the database if the partitions moved.
                stored = yield LoadState(result.target)
                target_state = stored or st.TargetState(target=result.target)
                self.states[result.target] = target_state
            before = _persisted_view(target_state)
            yield from self._apply(plan, target_state, result, now)
            self.partition_of[result.target] = partition
            if _persisted_view(target_state) != before:
                touched[result.target] = partition
        plan.states = [(t, self.topic, p, st.dump(self.states[t])) for t, p in touched.items()]
        if plan.rejected:
            first = plan.rejected[0]
            plan.lines.append(
                LogLine(
                    logging.WARNING,
                    f"{len(plan.rejected)} message(s) skipped, not v1 results (kept in "
                    f"rejected_messages), first: {first.topic}[{first.partition}]"
                    f"@{first.offset}: {first.reason}",
                )
            )
        return plan

    def _apply(
        self, plan: Plan, ts: st.TargetState, result: CheckResult, now: datetime
    ) -> Planning[None]:
        rules = self.config.rules(result.target)
        change = st.apply_result(ts, result, rules)
        if isinstance(change, st.WentDown):
            incident_id = yield OpenIncident(ts.target, change)
            incident = ts.open_incident(incident_id, change)
            plan.incidents += 1
            plan.lines.append(
                LogLine(
                    logging.WARNING,
                    f"{ts.target} is DOWN (incident {incident_id}): {change.cause}",
                )
            )
            plan.outbox.append(
                outbox_rows.incident_event("incident_opened", ts, incident, change.confirmed_at)
            )
        elif isinstance(change, st.WentUp):
            assert ts.incident is not None
            yield ChangeIncident(ts.incident.id, change)
            closed = ts.close_incident(change)
            plan.lines.append(
                LogLine(logging.WARNING, f"{ts.target} is UP again (incident {closed.id} closed)")
            )
            plan.outbox.append(
                outbox_rows.incident_event("incident_resolved", ts, closed, change.confirmed_at)
            )
        elif isinstance(change, st.LocationsChanged) and ts.incident is not None:
            ts.incident.locations = list(change.locations)
            yield ChangeIncident(ts.incident.id, change)

        silenced = self._silenced(ts.target, now) or self._silenced(ts.target, result.checked_at)
        warning = st.check_certificate(ts, result, rules)
        if warning is not None:
            plan.outbox.append(outbox_rows.certificate_event(ts, warning, result.checked_at))
            if not silenced:
                self._queue(
                    plan,
                    *outbox_rows.certificate_notification(
                        ts, warning, result.checked_at, self._receivers(ts.target)
                    ),
                )
                ts.cert_warned_days = warning.threshold
        for planned in st.plan_notifications(ts, rules, now, silenced):
            self._queue(plan, *outbox_rows.notification(ts, planned, self._receivers(ts.target)))

    # --- the clock -------------------------------------------------------------------
    def plan_tick(self, now: datetime) -> Plan:
        """Reminders due, and maintenance windows that ended."""
        plan = Plan()
        for target, ts in list(self.states.items()):
            if not ts.needs_attention():
                continue
            self._remember(target)
            before = st.dump(ts)
            planned = st.plan_notifications(
                ts, self.config.rules(target), now, self._silenced(target, now)
            )
            after = st.dump(ts)
            if after != before:
                plan.states.append((target, self.topic, self.partition_of[target], after))
            for item in planned:
                self._queue(plan, *outbox_rows.notification(ts, item, self._receivers(target)))
        return plan

    # --- helpers -----------------------------------------------------------------------
    def _queue(self, plan: Plan, message: Any, rows: list[OutboxRow]) -> None:
        plan.outbox += rows
        plan.lines.append(
            LogLine(logging.INFO, f"queued {message.kind} notification: {message.text}")
        )

    def _receivers(self, target: str) -> list[str]:
        return list(self.config.notifiers_for(target))

    def _silenced(self, target: str, at: datetime) -> bool:
        return in_maintenance(self.config.maintenance, target, at)


def _persisted_view(ts: st.TargetState) -> bytes:
    """The state as it matters for a restart: location times only to the minute.

    A steady target changes nothing else from one check to the next, so most checks
    cost no write at all.
    """
    view = msgspec.structs.replace(
        ts,
        locations={
            name: msgspec.structs.replace(
                loc,
                last_at=loc.last_at.replace(second=0, microsecond=0) if loc.last_at else None,
            )
            for name, loc in ts.locations.items()
        },
    )
    return st.dump(view)
