"""Which periods a heartbeat target missed, and the results that say so (pure logic).

A target is expected to ping once per `interval`. Its periods are counted from its
anchor: the newest ping, or, before any ping, the time a monitor first watched it.
Period k (k = 1, 2, ...) is expected by `anchor + k * interval`; it is missed when no
ping came by `anchor + k * interval + grace` (a new ping moves the anchor, so any
ping ends the count). Each missed period gets one down result, of kind `heartbeat`,
checked at its deadline, whose `id` is derived from the target and the period's
expected time: publishing it twice (a watcher restarted before it could note its
progress) gives the same message, which the store keeps once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from wac.probes.failure import unmeasured_result
from wac.result import CheckError, CheckResult, iso_utc
from wac.targets import Target
from wac.targets.options import PushOptions, options_as

# The ids of down results: uuid5 in this namespace of "target id NUL expected time".
PERIOD_NAMESPACE = uuid.UUID("6b1c3f0e-4f0a-5d39-9d2e-7761632d7075")
SETTLE_S = 1.0  # a deadline is judged this long after it passes (a ping being written)
MAX_PERIODS_PER_PASS = 1000


def options_of(target: Target) -> PushOptions:
    return options_as(target.probe_options, PushOptions, None, "push")


def missed_periods(
    anchor: datetime,
    interval_s: float,
    grace_s: float,
    now: datetime,
    after: datetime | None = None,
    limit: int = MAX_PERIODS_PER_PASS,
) -> list[datetime]:
    """The expected times of the periods missed by `now` (their deadlines passed at least
    SETTLE_S ago), after the period expected at `after` (None: from the first), at most
    `limit` of them, oldest first."""
    interval = timedelta(seconds=interval_s)
    wait = timedelta(seconds=grace_s + SETTLE_S)
    k = 1
    if after is not None and after >= anchor + interval:
        k = int((after - anchor) / interval) + 1
        while anchor + k * interval <= after:  # float rounding: never the same period again
            k += 1
    missed: list[datetime] = []
    while len(missed) < limit:
        expected = anchor + k * interval
        if expected + wait > now:
            break
        missed.append(expected)
        k += 1
    return missed


def period_id(target_id: str, expected: datetime) -> uuid.UUID:
    return uuid.uuid5(PERIOD_NAMESPACE, f"{target_id}\0{iso_utc(expected)}")


def down_result(
    target: Target, expected: datetime, anchor: datetime, pinged: bool, monitor: str
) -> CheckResult:
    """The down result of the period expected at `expected`."""
    grace = options_of(target).grace
    deadline = expected + timedelta(seconds=grace)
    since = (
        f"no ping since {iso_utc(anchor)}"
        if pinged
        else f"no ping yet (watched since {iso_utc(anchor)})"
    )
    error = CheckError(
        "heartbeat",
        f"{since}: a ping was due by {iso_utc(expected)} (interval {target.interval:g} s, "
        f"grace {grace:g} s)",
    )
    return unmeasured_result(
        target, monitor, deadline, error, check_id=period_id(target.id, expected)
    )


def up_result(target: Target, at: datetime, monitor: str) -> CheckResult:
    """The up result of one ping received at `at`."""
    return unmeasured_result(target, monitor, at, None)
