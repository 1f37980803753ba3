"""`wac alert`'s planner, driven without a database: effects answered by a dictionary."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.unit.test_alert_state import T0, result
from wac.alerts import state as st
from wac.alerts.config import AlertConfig, Rules
from wac.alerts.db import EVENTS_CHANNEL
from wac.alerts.maintenance import MaintenanceWindow, OneOffWindow
from wac.alerts.messages import notification_decoder
from wac.alerts.planner import (
    ChangeIncident,
    Effect,
    LoadState,
    OpenIncident,
    Plan,
    Planner,
    run_plan,
)
from wac.result import encode


@dataclass
class Msg:
    """A consumed message, as the planner reads it."""

    _offset: int
    _value: bytes
    _partition: int = 0

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value

    def topic(self) -> str:
        return "results"

    def key(self) -> bytes | None:
        return None


class Database:
    """Answers the planner's effects and records them, in order."""

    def __init__(self, stored: dict[str, st.TargetState] | None = None) -> None:
        self.stored = stored or {}
        self.effects: list[Effect] = []
        self.next_id = 40

    def perform(self, effect: Effect) -> Any:
        self.effects.append(effect)
        if isinstance(effect, LoadState):
            return self.stored.get(effect.target)
        if isinstance(effect, OpenIncident):
            self.next_id += 1
            return self.next_id
        return None


def planner(**config: Any) -> Planner:
    defaults = {
        "defaults": Rules(failure_threshold=2, success_threshold=1, reminder_interval=None),
        "notifiers": {"hook": object(), "mail": object()},
    }
    return Planner(AlertConfig(**{**defaults, **config}), "results", 65536)


def checks(*oks: bool, target: str = "shop", start: int = 0) -> list[Msg]:
    return [
        Msg(start + i, encode(result(ok, T0 + timedelta(seconds=start + i), target=target)))
        for i, ok in enumerate(oks)
    ]


def plan(p: Planner, batch: list[Msg], db: Database, now: datetime | None = None) -> Plan:
    return run_plan(p.plan_batch(batch, now or T0 + timedelta(minutes=1)), db.perform)


def test_a_target_going_down_opens_an_incident_and_queues_its_event_and_notifications() -> None:
    p, db = planner(), Database()
    out = plan(p, checks(True, False, False), db)

    assert [type(e) for e in db.effects] == [LoadState, OpenIncident]
    opened = db.effects[1]
    assert isinstance(opened, OpenIncident)
    assert (opened.target, opened.change.started, opened.change.locations) == (
        "shop",
        T0 + timedelta(seconds=1),
        ("eu",),
    )
    assert out.incidents == 1 and out.results == 3
    assert out.offsets == {0: 3}
    rows = [(r.channel, r.kind, r.incident_id) for r in out.outbox]
    assert rows == [
        (EVENTS_CHANNEL, "incident_opened", 41),
        ("hook", "down", 41),
        ("mail", "down", 41),
    ]
    down = notification_decoder.decode(out.outbox[1].payload)
    assert down.incident is not None and down.incident.id == 41
    assert [t for t, _, _, _ in out.states] == ["shop"]
    assert p.states["shop"].incident is not None and p.states["shop"].incident.id == 41
    texts = [line.text for line in out.lines]
    assert texts[0] == "shop is DOWN (incident 41): status: HTTP status 500, expected 2xx or 3xx"
    assert all(line.level in (logging.INFO, logging.WARNING) for line in out.lines)


def test_recovery_closes_the_incident_in_order_and_queues_up() -> None:
    p, db = planner(), Database()
    plan(p, checks(False, False), db)
    out = plan(p, checks(True, start=2), db)
    closed = db.effects[-1]
    assert isinstance(closed, ChangeIncident) and closed.incident_id == 41
    assert isinstance(closed.change, st.WentUp) and closed.change.ended == T0 + timedelta(seconds=2)
    assert [(r.channel, r.kind) for r in out.outbox] == [
        (EVENTS_CHANNEL, "incident_resolved"),
        ("hook", "up"),
        ("mail", "up"),
    ]
    assert p.states["shop"].incident is None


def test_a_steady_target_writes_no_state_and_queues_nothing() -> None:
    p, db = planner(), Database()
    plan(p, checks(True, True), db)  # the count of successes is at its cap now
    out = plan(p, checks(True, True, start=2), db)  # in the same minute
    assert out.outbox == [] and out.states == [] and out.lines == []
    assert db.effects == [LoadState("shop")]  # loaded once, then kept in memory


def test_a_known_state_is_loaded_not_started_afresh() -> None:
    known = st.TargetState(target="shop")
    plan(planner(), checks(False), Database())  # another process's view: one failure
    db = Database({"shop": known})
    p = planner()
    out = plan(p, checks(False), db)
    assert p.states["shop"] is known and known.locations["eu"].failures == 1
    assert out.incidents == 0


def test_a_message_that_is_not_a_result_is_rejected_and_its_offset_kept() -> None:
    p, db = planner(), Database()
    batch = [Msg(0, b"not json"), *checks(True, start=1)]
    out = plan(p, batch, db)
    assert [r.offset for r in out.rejected] == [0]
    assert out.offsets == {0: 2} and out.results == 1
    assert "1 message(s) skipped, not v1 results" in out.lines[-1].text


def test_rollback_puts_memory_back_as_it_was_at_begin() -> None:
    p, db = planner(), Database()
    plan(p, checks(False), db)
    before = st.dump(p.states["shop"])
    p.begin()
    plan(p, [*checks(False, start=1), *checks(True, target="fresh")], db)
    assert p.states["shop"].incident is not None and "fresh" in p.states
    p.rollback()
    assert st.dump(p.states["shop"]) == before
    assert "fresh" not in p.states and "fresh" not in p.partition_of


def test_changed_locations_of_an_open_incident_are_written() -> None:
    p = planner(defaults=Rules(failure_threshold=1, reminder_interval=None, quorum=1))
    db = Database()
    eu_down = encode(result(False, T0, monitor="eu"))
    us_down = encode(result(False, T0 + timedelta(seconds=1), monitor="us"))
    plan(p, [Msg(0, eu_down), Msg(1, us_down)], db)
    moved = db.effects[-1]
    assert isinstance(moved, ChangeIncident) and isinstance(moved.change, st.LocationsChanged)
    assert moved.change.locations == ("eu", "us")


def test_maintenance_silences_notifications_but_not_events() -> None:
    window = MaintenanceWindow(
        "deploy", None, OneOffWindow(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    )
    p, db = planner(maintenance=(window,)), Database()
    out = plan(p, checks(False, False), db)
    assert [(r.channel, r.kind) for r in out.outbox] == [(EVENTS_CHANNEL, "incident_opened")]


def test_the_tick_sends_reminders_and_needs_no_database() -> None:
    p, db = planner(defaults=Rules(failure_threshold=1, reminder_interval=60.0)), Database()
    plan(p, checks(False), db)
    quiet = p.plan_tick(T0 + timedelta(seconds=30))
    assert quiet.outbox == []
    due = p.plan_tick(T0 + timedelta(minutes=2))
    assert {(r.channel, r.kind, r.seq) for r in due.outbox} == {
        ("hook", "reminder", 1),
        ("mail", "reminder", 1),
    }
    assert [t for t, _, _, _ in due.states] == ["shop"]
