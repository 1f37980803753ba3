"""The week, 6-hour and 10-minute tiers on the real PostgreSQL: a window read with every
tier gives exactly the numbers it gives with days at most, with hours at most, and from
raw rows alone (checks, failures by kind, the histogram, extremes, sums, percentiles),
after a backfill, after late rows (before and after the minute horizon), after
`rebuild`, and as migrations 0153 and 0154 fill the tiers. A window that reaches the
watermark ends on the row of the bucket holding it, which holds its minutes up to the
watermark and no later one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.support.checks_data import Check, down, insert_checks, up
from tests.support.store import own_schema
from wac.db.migrate import available_migrations
from wac.reports.aggregate import Aggregate
from wac.reports.queries import Snapshot, aggregate, snapshot
from wac.reports.window import plan_window
from wac.rollups import job as rollup
from wac.rollups.tiers import DAY, HOUR, MINUTE, TIER_TABLES, WEEK, ceil_to, floor_to

pytestmark = pytest.mark.integration

TARGETS = ("weekly-a", "weekly-b")
KINDS = ("timeout", "dns", "status", "tls")
# Minutes older than 10 days are pruned: late rows there recompute hours from raw rows.
SETTINGS = rollup.RollupSettings(chunk=timedelta(days=4), minute_retention=timedelta(days=10))


@pytest.fixture
def conn(services_env: dict[str, str]) -> Iterator[psycopg.Connection]:
    with (
        own_schema(services_env) as env,
        psycopg.connect(env["POSTGRES_ENDPOINT"], autocommit=True) as c,
    ):
        yield c


def history(start: datetime, end: datetime, every: timedelta, seed: int) -> list[Check]:
    """Checks of both targets in [start, end): response times spread over many histogram
    buckets (whole milliseconds, so that every sum is exact in any order), failures of
    several kinds, certificate expiries that change over time."""
    checks: list[Check] = []
    at, i = start, seed
    while at < end:
        for n, target in enumerate(TARGETS):
            i += 1
            if i % 37 == n:
                checks.append(down(target, at, KINDS[i % len(KINDS)], "failed"))
            else:
                rt = float(5 + (i * 7919) % 1800 + n * 40)
                expires = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(days=i % 50)
                checks.append(up(target, at + timedelta(seconds=n), rt=rt, tls_expires_at=expires))
        at += every
    return checks


def roll_up(conn: psycopg.Connection) -> None:
    conn.autocommit = False
    result = rollup.catch_up(conn, SETTINGS, wait=30)
    conn.autocommit = True
    assert result.ran and result.caught_up


def numbers(agg: Aggregate) -> dict[str, Any]:
    """Everything a report shows of an aggregate, and what it is computed from."""
    return {
        "json": agg.to_json(),
        "hist": agg.hist,
        "by_kind": agg.by_kind,
        "extremes": (agg.rt_min, agg.rt_max, agg.tls_expires_at),
        "sums": (agg.rt_count, agg.rt_sum, agg.phase_sums),
    }


def answers(
    conn: psycopg.Connection, snap: Snapshot, start: datetime, end: datetime
) -> dict[str, dict[str, dict[str, Any]]]:
    """The window's numbers per target: read with every tier, with days at most, with
    hours at most, raw only.

    Before the minute horizon a window starts on the nearest hour (there are no minutes
    to read): the raw rows are those of the window the rollups read.
    """
    days = plan_window(start, end, snap.watermark, snap.minute_horizon, coarsest="day")
    plans = {
        "weeks": plan_window(start, end, snap.watermark, snap.minute_horizon),
        "days": days,
        "hours": plan_window(start, end, snap.watermark, snap.minute_horizon, coarsest="hour"),
        "raw": plan_window(days[0].start, days[-1].end, None),
    }
    assert snap.watermark is not None
    if ceil_to(start, WEEK) + WEEK <= min(end, snap.watermark):  # a whole week inside
        assert "week" in {p.source for p in plans["weeks"]}, plans["weeks"]
    if end > snap.watermark:  # a partial bucket's row, up to the watermark, then raw rows
        assert plans["weeks"][-2].end == snap.watermark != floor_to(snap.watermark, HOUR)
    assert "week" not in {p.source for p in plans["days"]}
    assert {"hour6", "day", "week"}.isdisjoint({p.source for p in plans["hours"]})
    assert {p.source for p in plans["raw"]} == {"raw"}
    return {
        how: {t: numbers(a) for (t, _), a in aggregate(conn, pieces, list(TARGETS)).items()}
        for how, pieces in plans.items()
    }


def assert_exact(conn: psycopg.Connection, windows: list[tuple[datetime, datetime]]) -> None:
    snap = snapshot(conn)
    for start, end in windows:
        got = answers(conn, snap, start, end)
        assert set(got["raw"]) == set(TARGETS)
        assert got["weeks"] == got["raw"], (start, end)
        assert got["days"] == got["raw"], (start, end)
        assert got["hours"] == got["raw"], (start, end)


def tier_rows(
    conn: psycopg.Connection, tier: str, since: datetime | None = None
) -> list[tuple[Any, ...]]:
    return conn.execute(
        f"SELECT * FROM {TIER_TABLES[tier]} WHERE bucket >= %s ORDER BY target, bucket",
        (since or datetime(1970, 1, 1, tzinfo=UTC),),
    ).fetchall()


def test_weeks_give_the_numbers_of_days_and_of_raw_rows(conn: psycopg.Connection) -> None:
    now = datetime.now(UTC)
    first = floor_to(now - timedelta(days=25), HOUR) + timedelta(minutes=7)
    insert_checks(conn, history(first, now - 5 * MINUTE, timedelta(minutes=20), seed=0))
    roll_up(conn)
    weeks = conn.execute("SELECT count(DISTINCT bucket) FROM rollup_week").fetchone()
    assert weeks is not None and weeks[0] >= 4

    windows = [
        (first, now),
        (now - timedelta(days=23, seconds=17), now),  # a `--since 23d`
        (now - timedelta(days=20, hours=3, minutes=5), now - timedelta(days=2, minutes=7)),
        (floor_to(now - timedelta(days=15), WEEK), floor_to(now, WEEK)),  # whole weeks
        # Inside the kept minutes: its start edge reads minutes, 10 minutes, hours, 6
        # hours; its end edge 6 hours, hours, 10 minutes, minutes, then raw rows.
        (
            floor_to(now - timedelta(days=9), DAY) + timedelta(hours=7, minutes=23, seconds=30),
            floor_to(now - timedelta(days=1), DAY) + timedelta(hours=19, minutes=46, seconds=5),
        ),
    ]
    snap = snapshot(conn)
    edges = plan_window(*windows[-1], snap.watermark, snap.minute_horizon)
    sources = [p.source for p in edges]
    assert sources[:5] == ["raw", "minute", "minute10", "hour", "hour6"], edges
    assert sources[-5:] == ["hour6", "hour", "minute10", "minute", "raw"], edges
    assert_exact(conn, windows)

    # Late rows, stored and marked as a store catching up marks them: one day in a
    # week long closed whose minutes were pruned, one whose minutes are still kept.
    late = [
        *history(now - timedelta(days=19, hours=5), now - timedelta(days=19), MINUTE, seed=3),
        *history(now - timedelta(days=8, hours=2), now - timedelta(days=8), MINUTE, seed=5),
    ]
    insert_checks(conn, late)
    minutes = sorted({floor_to(c.checked_at, MINUTE) for c in late})
    conn.execute("INSERT INTO rollup_dirty (minute) SELECT unnest(%s::timestamptz[])", (minutes,))
    roll_up(conn)
    assert_exact(conn, windows)

    # `rebuild` (`wac rollup --rebuild`) recomputes the weeks too, and no minute at or
    # after the watermark, whose rows readers read raw.
    # (It writes minutes and 10 minutes before the minute horizon too, from raw rows: the
    # pass that next moves the horizon prunes them; readers read none of them.)
    _, horizon = rollup.read_state(conn)
    repaired = {tier: tier_rows(conn, tier, horizon) for tier in ("minute10", "hour6", "week")}
    for tier in repaired:
        conn.execute(f"UPDATE {TIER_TABLES[tier]} SET checks = checks + 1, rt_b10 = 999")
    insert_checks(conn, history(now - timedelta(seconds=40), now, timedelta(seconds=10), seed=7))
    rollup.rebuild(conn, first, datetime.now(UTC), chunk=timedelta(days=5))
    assert {tier: tier_rows(conn, tier, horizon) for tier in repaired} == repaired
    rebuilt = {tier: tier_rows(conn, tier) for tier in repaired}
    watermark, _ = rollup.read_state(conn)
    assert watermark is not None
    for tier in TIER_TABLES.values():
        row = conn.execute(f"SELECT sum(checks) FROM {tier} WHERE bucket >= %s", (watermark,))
        assert row.fetchone() == (None,), tier  # nothing rolled up there yet
    assert_exact(conn, [(w[0], datetime.now(UTC)) for w in windows])

    # Migration 0153 sums the days already rolled up into the weeks the job would write,
    # 0154 the minutes into 10 minutes and the hours into 6 hours.
    for version, tiers in (("0153", ("week",)), ("0154", ("minute10", "hour6"))):
        backfill = next(
            text for _, name, text in available_migrations() if name.startswith(version)
        )
        conn.execute("TRUNCATE " + ", ".join(TIER_TABLES[t] for t in tiers))
        conn.execute("DO $migration$" + backfill.split("DO $migration$", 1)[1])
        assert {t: tier_rows(conn, t) for t in tiers} == {t: rebuilt[t] for t in tiers}


def test_rebuild_from_inside_an_hour_whose_minutes_were_pruned_keeps_the_whole_hour(
    conn: psycopg.Connection,
) -> None:
    """Before the minute horizon the hour is the finest tier: a rebuild that starts at
    :37 recomputes that hour from all its raw rows, not only those after :37."""
    now = datetime.now(UTC)
    first = floor_to(now - timedelta(days=14), HOUR) + timedelta(minutes=7)
    insert_checks(conn, history(first, now - 5 * MINUTE, timedelta(minutes=20), seed=11))
    roll_up(conn)
    _, horizon = rollup.read_state(conn)
    start = floor_to(now - timedelta(days=12), HOUR) + timedelta(minutes=37)
    assert horizon is not None and start < horizon  # the case: its minutes are pruned
    rollup.rebuild(conn, start, datetime.now(UTC), chunk=timedelta(days=5))
    hour = floor_to(start, HOUR)
    assert_exact(conn, [(hour, hour + HOUR), (floor_to(start, DAY), now), (first, now)])
