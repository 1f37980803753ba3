"""Rollups on the real PostgreSQL: a known data set in, exact sums out, at every tier."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.support.checks_data import down, insert_checks, prefix, up
from wac.reports.queries import Snapshot, series, summaries
from wac.rollups import job as rollup
from wac.rollups.tiers import FAIL_COLUMNS, HIST_COLUMNS, RESPONSE_TIME_BOUNDS_MS, floor_to

pytestmark = pytest.mark.integration
MIN = timedelta(minutes=1)


@pytest.fixture
def conn(services_env: dict[str, str]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(services_env["POSTGRES_ENDPOINT"], autocommit=True) as c:
        yield c


def tier_rows(conn: psycopg.Connection, table: str, target: str) -> list[dict]:
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    cur.execute(
        psycopg.sql.SQL("SELECT * FROM {} WHERE target = %s ORDER BY bucket").format(
            psycopg.sql.Identifier(table)
        ),
        (target,),
    )
    return cur.fetchall()


def test_known_data_set_at_every_tier(conn: psycopg.Connection) -> None:
    t = prefix() + "site"
    base = floor_to(datetime.now(UTC), timedelta(hours=1)) - timedelta(hours=3)
    checks = []
    # Two hours, one check every 20 s: response time 10..59 ms cycling, a failure of
    # each of two kinds in minute 5, a certificate seen throughout.
    expires = base + timedelta(days=40)
    for i in range(360):
        at = base + timedelta(seconds=20 * i)
        if i == 15:
            checks.append(down(t, at, "timeout", "slow"))
        elif i == 16:
            checks.append(down(t, at, "dns", "no such host"))
        else:
            checks.append(up(t, at, rt=10.0 + i % 50, tls_expires_at=expires))
    insert_checks(conn, checks)
    rollup.recompute(conn, base, base + timedelta(hours=2), [t])

    minutes = tier_rows(conn, "rollup_minute", t)
    assert len(minutes) == 120 and all(m["checks"] == 3 for m in minutes)
    m5 = minutes[5]
    assert (m5["failures"], m5["fail_timeout"], m5["fail_dns"], m5["fail_connect"]) == (
        2,
        1,
        1,
        None,
    )
    assert m5["rt_count"] == 1 and m5["tls_expires_at"] == expires
    hours = tier_rows(conn, "rollup_hour", t)
    assert [h["checks"] for h in hours] == [180, 180]
    assert [h["failures"] for h in hours] == [2, 0]
    days = tier_rows(conn, "rollup_day", t)
    assert sum(d["checks"] for d in days) == 360 and sum(d["failures"] for d in days) == 2
    # The histogram holds every response time in the bucket it belongs to.
    total_hist = [sum(h[c] or 0 for h in hours) for c in HIST_COLUMNS]
    expected = [0] * len(HIST_COLUMNS)
    for c in checks:
        if c.response_time_ms is not None:
            expected[bisect.bisect_right(RESPONSE_TIME_BOUNDS_MS, c.response_time_ms)] += 1
    assert total_hist == expected
    assert sum(hours[0][c] or 0 for c in FAIL_COLUMNS) == hours[0]["failures"]
    phase_sum = sum(h["processing_ms_sum"] for h in hours)
    assert phase_sum == pytest.approx(sum((c.response_time_ms or 0) - 4 for c in checks if c.ok))

    # Recomputing is idempotent.
    rollup.recompute(conn, base, base + timedelta(hours=2), [t])
    assert tier_rows(conn, "rollup_hour", t) == hours

    # The same window answered from rollups and from raw rows alone is the same.
    now = datetime.now(UTC)
    rolled = Snapshot(watermark=base + timedelta(hours=2), minute_horizon=None, now=now)
    raw = Snapshot(watermark=None, minute_horizon=None, now=now)
    start, end = base + timedelta(seconds=30), base + timedelta(hours=1, minutes=50, seconds=7)
    a = summaries(conn, rolled, start, end, [t])[t]
    b = summaries(conn, raw, start, end, [t])[t]
    assert (a.checks, a.failures, a.by_kind, a.hist) == (b.checks, b.failures, b.by_kind, b.hist)
    assert a.checks == sum(1 for c in checks if start <= c.checked_at < end)
    assert a.rt_sum == pytest.approx(b.rt_sum)

    points = series(conn, rolled, t, base, base + timedelta(hours=2), timedelta(minutes=5))
    assert len(points) == 24 and sum(p.checks for _, p in points) == 360
    assert points[1][1].failures == 2  # minute 5 is in the second 5-minute bin


def test_a_pass_catches_up_and_late_rows_are_found(conn: psycopg.Connection) -> None:
    t = prefix() + "late"
    now = datetime.now(UTC)
    old = floor_to(now - timedelta(minutes=40), MIN)
    insert_checks(conn, [up(t, old + timedelta(seconds=5))])
    conn.autocommit = False
    cfg = rollup.RollupSettings()
    rollup.catch_up(conn, cfg)
    conn.autocommit = True
    state = conn.execute("SELECT watermark FROM rollup_state").fetchone()
    assert state is not None and state[0] > old
    assert [r["checks"] for r in tier_rows(conn, "rollup_minute", t)] == [1]

    # A row that arrives after its minute was rolled up (a store catching up).
    insert_checks(conn, [down(t, old + timedelta(seconds=35))])
    assert old in rollup.stale_minutes(conn, old, old + MIN)
    conn.autocommit = False
    result = rollup.run_pass(conn, cfg)
    conn.autocommit = True
    if not result.ran:  # another process held the lock and did the pass
        pytest.skip("another rollup pass was running")
    rows = tier_rows(conn, "rollup_minute", t)
    assert [(r["checks"], r["failures"]) for r in rows] == [(2, 1)]
    assert rollup.stale_minutes(conn, old, old + MIN) == []
    hour = tier_rows(conn, "rollup_hour", t)
    assert [(h["checks"], h["failures"]) for h in hour] == [(2, 1)]


def test_a_pass_skips_while_another_process_holds_the_lock(
    conn: psycopg.Connection, services_env: dict[str, str]
) -> None:
    with psycopg.connect(services_env["POSTGRES_ENDPOINT"]) as other, other.transaction():
        other.execute("SELECT pg_advisory_xact_lock(%s)", (rollup.ROLLUP_LOCK_KEY,))
        conn.autocommit = False
        assert rollup.run_pass(conn).ran is False
        conn.autocommit = True


def test_failures_of_the_new_probes_are_counted_by_kind_at_every_tier(
    conn: psycopg.Connection,
) -> None:
    """packet_loss, assertion and heartbeat have counters of their own; a kind this
    reader does not know (a newer writer's) counts as other."""
    t = prefix() + "probes"
    base = floor_to(datetime.now(UTC), timedelta(hours=1)) - timedelta(hours=2)
    kinds = ["packet_loss", "packet_loss", "assertion", "heartbeat", "gremlins", "dns"]
    checks = [down(t, base + timedelta(seconds=5 * i), kind, "x") for i, kind in enumerate(kinds)]
    checks.append(up(t, base + timedelta(minutes=3)))
    insert_checks(conn, checks)
    rollup.recompute(conn, base, base + timedelta(hours=1), [t])
    for table in ("rollup_minute", "rollup_hour", "rollup_day"):
        rows = tier_rows(conn, table, t)
        totals = {c: sum(r[c] or 0 for r in rows) for c in FAIL_COLUMNS}
        assert totals["fail_packet_loss"] == 2, table
        assert (totals["fail_assertion"], totals["fail_heartbeat"]) == (1, 1), table
        assert (totals["fail_other"], totals["fail_dns"]) == (1, 1), table
        assert sum(totals.values()) == sum(r["failures"] for r in rows) == 6
    now = datetime.now(UTC)
    rolled = Snapshot(watermark=base + timedelta(hours=1), minute_horizon=None, now=now)
    raw = Snapshot(watermark=None, minute_horizon=None, now=now)
    window = (base, base + timedelta(hours=1))
    expected = {"packet_loss": 2, "assertion": 1, "heartbeat": 1, "other": 1, "dns": 1}
    assert summaries(conn, rolled, *window, [t])[t].by_kind == expected
    assert summaries(conn, raw, *window, [t])[t].by_kind == expected
