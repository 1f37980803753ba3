"""The alert state machine: thresholds, quorum, reminders, maintenance, certificates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec

from wac.alerts import state as st
from wac.alerts.config import Rules
from wac.result import CheckError, CheckResult, Phases

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def result(
    ok: bool,
    at: datetime,
    monitor: str = "eu",
    target: str = "shop",
    tls_expires_at: datetime | None = None,
) -> CheckResult:
    return CheckResult(
        v=1,
        id=uuid.uuid4(),
        target=target,
        url="https://shop.example/",
        monitor=monitor,
        checked_at=at,
        ok=ok,
        status_code=200 if ok else 500,
        response_time_ms=1.0,
        phases=Phases(),
        pattern=None,
        pattern_matched=None,
        tls_expires_at=tls_expires_at,
        error=None if ok else CheckError("status", "HTTP status 500, expected 2xx or 3xx"),
    )


def feed(state: st.TargetState, rules: Rules, oks: list[bool], start: int = 0, **kw) -> list:
    changes = []
    for i, ok in enumerate(oks):
        change = st.apply_result(state, result(ok, T0 + timedelta(seconds=start + i), **kw), rules)
        if change is not None:
            changes.append((start + i, change))
            if isinstance(change, st.WentDown):
                state.open_incident(len(changes), change)
            elif isinstance(change, st.WentUp):
                state.close_incident(change)
    return changes


def test_down_after_failure_threshold_and_up_after_success_threshold() -> None:
    rules = Rules(failure_threshold=3, success_threshold=2)
    state = st.TargetState(target="shop")
    changes = feed(state, rules, [True, True, False, False, True, False, False, False, False])
    assert len(changes) == 1
    at, down = changes[0]
    assert isinstance(down, st.WentDown)
    assert at == 7  # the third failure in a row, not the first two of an earlier streak
    assert down.started == T0 + timedelta(seconds=5)  # first failure of that streak
    assert down.confirmed_at == T0 + timedelta(seconds=7)
    assert down.cause == "status: HTTP status 500, expected 2xx or 3xx"
    assert down.locations == ("eu",)
    assert state.status == "down"

    changes = feed(state, rules, [True, False, True, True, True], start=9)
    assert len(changes) == 1
    at, up = changes[0]
    assert isinstance(up, st.WentUp)
    assert at == 12  # the second success in a row
    assert up.ended == T0 + timedelta(seconds=11)
    assert state.status == "up" and state.incident is None


def test_a_target_already_down_at_first_sight_is_an_incident() -> None:
    state = st.TargetState(target="shop")
    changes = feed(state, Rules(failure_threshold=2), [False, False])
    assert [type(c) for _, c in changes] == [st.WentDown]


def test_quorum_majority_of_three_locations() -> None:
    rules = Rules(failure_threshold=2, success_threshold=1, quorum="majority")
    state = st.TargetState(target="shop")
    for loc in ("eu", "us", "ap"):
        feed(state, rules, [True], monitor=loc)
    # One location failing is not enough.
    assert feed(state, rules, [False, False, False], start=1, monitor="eu") == []
    # A second one makes the majority.
    changes = feed(state, rules, [False, False], start=4, monitor="us")
    assert len(changes) == 1 and isinstance(changes[0][1], st.WentDown)
    assert changes[0][1].locations == ("eu", "us")
    # The third joining updates the incident's locations.
    changes = feed(state, rules, [False, False], start=6, monitor="ap")
    assert changes == [(7, st.LocationsChanged(("ap", "eu", "us")))]
    state.incident.locations = ["ap", "eu", "us"]  # type: ignore[union-attr]
    # Two recovering leaves one down: below the quorum, so up.
    assert feed(state, rules, [True], start=8, monitor="eu") == []
    changes = feed(state, rules, [True], start=9, monitor="us")
    assert len(changes) == 1 and isinstance(changes[0][1], st.WentUp)


def test_quorum_number_is_capped_by_locations_reporting() -> None:
    rules = Rules(failure_threshold=1, quorum=2)
    state = st.TargetState(target="shop")
    changes = feed(state, rules, [False], monitor="only")
    assert len(changes) == 1 and isinstance(changes[0][1], st.WentDown)


def test_quorum_all_and_location_expiry() -> None:
    rules = Rules(failure_threshold=1, success_threshold=1, quorum="all", location_expiry=60)
    state = st.TargetState(target="shop")
    feed(state, rules, [True], monitor="eu")
    feed(state, rules, [True], monitor="us")
    assert feed(state, rules, [False], start=1, monitor="eu") == []
    # "us" has been silent for over a minute: it no longer counts, "eu" alone decides.
    changes = feed(state, rules, [False], start=120, monitor="eu")
    assert len(changes) == 1 and isinstance(changes[0][1], st.WentDown)


def test_plan_down_reminders_and_up() -> None:
    rules = Rules(failure_threshold=1, success_threshold=1, reminder_interval=60)
    state = st.TargetState(target="shop")
    feed(state, rules, [False])
    now = T0 + timedelta(seconds=1)
    planned = st.plan_notifications(state, rules, now, silenced=False)
    assert [(p.kind, p.seq) for p in planned] == [("down", 0)]
    assert st.plan_notifications(state, rules, now + timedelta(seconds=59), False) == []
    planned = st.plan_notifications(state, rules, now + timedelta(seconds=60), False)
    assert [(p.kind, p.seq) for p in planned] == [("reminder", 1)]
    planned = st.plan_notifications(state, rules, now + timedelta(seconds=121), False)
    assert [(p.kind, p.seq) for p in planned] == [("reminder", 2)]
    feed(state, rules, [True], start=200)
    planned = st.plan_notifications(state, rules, now + timedelta(seconds=200), False)
    assert [(p.kind, p.seq) for p in planned] == [("up", 0)]
    assert planned[0].incident.ended == T0 + timedelta(seconds=200)
    assert st.plan_notifications(state, rules, now + timedelta(seconds=999), False) == []


def test_reminders_off() -> None:
    rules = Rules(failure_threshold=1, reminder_interval=None)
    state = st.TargetState(target="shop")
    feed(state, rules, [False])
    assert len(st.plan_notifications(state, rules, T0, False)) == 1
    assert st.plan_notifications(state, rules, T0 + timedelta(days=3), False) == []


def test_maintenance_hides_an_outage_inside_it_and_announces_one_that_outlasts_it() -> None:
    rules = Rules(failure_threshold=1, success_threshold=1, reminder_interval=None)
    state = st.TargetState(target="shop")
    # Down and up again, all inside a window: nothing, ever.
    feed(state, rules, [False])
    assert st.plan_notifications(state, rules, T0, silenced=True) == []
    feed(state, rules, [True], start=1)
    assert st.plan_notifications(state, rules, T0, silenced=True) == []
    assert st.plan_notifications(state, rules, T0 + timedelta(hours=1), silenced=False) == []
    # Down inside a window and still down after it: announced when it ends.
    feed(state, rules, [False], start=10)
    assert st.plan_notifications(state, rules, T0, silenced=True) == []
    planned = st.plan_notifications(state, rules, T0 + timedelta(hours=1), silenced=False)
    assert [p.kind for p in planned] == ["down"]
    # Recovery during a later window is told once the window is over.
    feed(state, rules, [True], start=20)
    assert st.plan_notifications(state, rules, T0, silenced=True) == []
    planned = st.plan_notifications(state, rules, T0 + timedelta(hours=2), silenced=False)
    assert [p.kind for p in planned] == ["up"]


def test_certificate_warnings_once_per_threshold_and_reset_on_renewal() -> None:
    rules = Rules(cert_expiry_days=(14, 7, 1))
    state = st.TargetState(target="shop")
    expiry = T0 + timedelta(days=10)

    def check(at: datetime, expires: datetime) -> st.CertWarning | None:
        warning = st.check_certificate(state, result(True, at, tls_expires_at=expires), rules)
        if warning is not None:
            state.cert_warned_days = warning.threshold
        return warning

    first = check(T0, expiry)
    assert first is not None and first.threshold == 14 and round(first.days_left) == 10
    assert check(T0 + timedelta(days=1), expiry) is None
    second = check(T0 + timedelta(days=3, hours=1), expiry)
    assert second is not None and second.threshold == 7
    # First seen with half a day left: only the smallest threshold.
    renewed_badly = T0 + timedelta(days=30, hours=12)
    third = check(T0 + timedelta(days=30), renewed_badly)
    assert third is not None and third.threshold == 1
    assert check(T0 + timedelta(days=30), T0 + timedelta(days=400)) is None


def test_state_round_trips_through_json() -> None:
    rules = Rules(failure_threshold=1)
    state = st.TargetState(target="shop")
    feed(state, rules, [False])
    st.plan_notifications(state, rules, T0, False)
    again = st.load(st.dump(state))
    assert again == state
    assert msgspec.json.decode(st.dump(state))["incident"]["cause"].startswith("status")


def test_the_cause_names_the_probe_when_it_is_not_http() -> None:
    from wac.alerts.messages import IncidentInfo, render_text

    rules = Rules(failure_threshold=1, success_threshold=1)
    state = st.TargetState(target="router")
    failed = msgspec.structs.replace(
        result(False, T0, target="router"),
        url="icmp://192.0.2.1",
        status_code=None,
        probe="icmp",
        error=CheckError("packet_loss", "3 of 3 echo requests to 192.0.2.1 unanswered"),
    )
    down = st.apply_result(state, failed, rules)
    assert isinstance(down, st.WentDown)
    assert down.cause == ("icmp probe, packet_loss: 3 of 3 echo requests to 192.0.2.1 unanswered")
    info = IncidentInfo(id=1, started=T0, cause=down.cause, locations=["eu"])
    assert render_text("down", "router", T0, info).startswith(
        "DOWN router: icmp probe, packet_loss: 3 of 3 echo requests"
    )
    # HTTP results keep their words; a probe's failure without an error says which.
    assert st.cause_of(result(False, T0)) == "status: HTTP status 500, expected 2xx or 3xx"
    bare = msgspec.structs.replace(failed, error=None)
    assert st.cause_of(bare) == "icmp check failed"
