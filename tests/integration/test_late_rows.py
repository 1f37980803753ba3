"""Results that reach the database long after their check (a store catching up after an
outage): after the store wrote them, the next rollup pass makes `wac report` and the
dashboard exact, however old the rows; `wac rollup --once` waits for another process's
pass or says it did not run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.support.checks_data import down, insert_checks, up
from tests.support.processes import start, stop, wac, wait_for
from tests.support.store import counts, own_schema, produce, query, result
from wac.db.connect import connect_reader
from wac.reports.queries import Snapshot, snapshot, summaries
from wac.rollups import job as rollup
from wac.rollups.tiers import DAY, HOUR, HOUR6, MINUTE, WEEK, floor_to
from wac.web import data

pytestmark = pytest.mark.integration


@pytest.fixture
def env(isolated_env: dict[str, str]) -> Iterator[dict[str, str]]:
    with own_schema(isolated_env) as schema_env:
        yield schema_env


def child_env(env: dict[str, str]) -> dict[str, str]:
    children = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    return {**children, **env}


def report(env: dict[str, str], *window: str) -> dict[str, dict[str, Any]]:
    done = wac(["report", *window, "--json"], child_env(env))
    assert done.returncode == 0, done.stderr
    return {row["target"]: row for row in json.loads(done.stdout)["targets"]}


def test_late_rows_two_hours_and_three_days_old_are_exact_after_one_pass(
    env: dict[str, str],
) -> None:
    now = datetime.now(UTC)
    two_hours = floor_to(now - timedelta(hours=2), MINUTE)
    three_days = floor_to(now - timedelta(days=3), MINUTE)
    at = [three_days + timedelta(seconds=s) for s in (10, 20, 30, 40)]
    at2 = [two_hours + timedelta(seconds=s) for s in (10, 20, 30, 40)]
    # Stored and rolled up first: one good check in each of the two minutes.
    first = [
        result("late", checked_at=at[0]),
        result("late", checked_at=at2[0]),
        *(result("steady", checked_at=now - timedelta(minutes=m)) for m in range(1, 6)),
    ]
    # Then, after an outage, the store catches up with failures in those minutes, and
    # with a target seen nowhere else.
    catch_up = [
        *(result("late", checked_at=t, ok=False) for t in at[1:3]),
        *(result("late", checked_at=t, ok=False) for t in at2[1:4]),
        result("newcomer", checked_at=at[3], ok=False),
    ]
    store = start(["wac", "store"], env)
    try:
        produce(env, first)
        wait_for(lambda: counts(env)[0] == len(first), 60, "the first results stored")
        done = wac(["rollup", "--once"], child_env(env))
        assert done.returncode == 0, done.stderr
        assert report(env, "--since", "4d")["late"]["checks"] == 2  # rolled up as it was

        produce(env, catch_up)
        wait_for(
            lambda: counts(env)[0] == len(first) + len(catch_up), 60, "the late results stored"
        )
    finally:
        code, _, err = stop(store)
    assert code == 0, err
    marked = {row[0] for row in query(env, "SELECT minute FROM rollup_dirty")}
    assert marked == {three_days, two_hours}  # the store marked the minutes it wrote late

    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        result_of_pass = rollup.run_pass(conn)  # ONE pass
    assert result_of_pass.ran and result_of_pass.caught_up and result_of_pass.late_minutes == 2
    assert query(env, "SELECT count(*) FROM rollup_dirty") == [(0,)]

    rows = report(env, "--since", "4d")
    assert (rows["late"]["checks"], rows["late"]["failures"]) == (7, 5)
    assert (rows["newcomer"]["checks"], rows["newcomer"]["failures"]) == (1, 1)
    assert (rows["steady"]["checks"], rows["steady"]["failures"]) == (5, 0)
    # Windows read from the hour and day rollups alone give the same.
    hour = floor_to(three_days, HOUR)
    old = report(env, "--from", hour.isoformat(), "--to", (hour + HOUR).isoformat())
    assert (old["late"]["checks"], old["late"]["failures"]) == (3, 2)
    day = floor_to(two_hours, DAY)
    if day + DAY <= now:  # a whole day only when yesterday holds the two-hour-old rows
        whole = report(env, "--from", day.isoformat(), "--to", (day + DAY).isoformat())
        assert whole["late"]["failures"] == 3

    with connect_reader(env["POSTGRES_ENDPOINT"], "test-reader", read_only=True) as reader:
        page = data.target_detail(reader, "late", "7d")
        days = {d["day"]: d for d in page["days"]}
        assert (page["summary"]["checks"], page["summary"]["failures"]) == (7, 5)
        assert days[three_days.date().isoformat()]["failures"] == 2
        overview = {r["target"]: r for r in data.overview(reader)["targets"]}
        assert overview["late"]["uptime"]["7d"] == round(100 * 2 / 7, 2)
        assert overview["newcomer"]["uptime"]["7d"] == 0.0
        # Rolled-up answers equal what the raw rows alone say.
        with reader.transaction():
            snap = snapshot(reader)
            rolled = summaries(reader, snap, now - timedelta(days=4), snap.now)
            raw = summaries(
                reader, Snapshot(None, None, snap.now), now - timedelta(days=4), snap.now
            )
        assert {t: (a.checks, a.failures) for t, a in rolled.items()} == {
            t: (a.checks, a.failures) for t, a in raw.items()
        }


def test_late_rows_older_than_the_minute_rollups_are_exact(env: dict[str, str]) -> None:
    """Minutes are pruned after 35 days (hours and days stay): a late row there makes the
    pass recompute its hour from raw rows, then its 6 hours, day and week."""
    now = datetime.now(UTC)
    # The start of an hour: the row five minutes later is in the same hour and day.
    minute = floor_to(now - timedelta(days=40), HOUR)
    settings = rollup.RollupSettings(chunk=timedelta(days=41))
    with psycopg.connect(env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
        insert_checks(conn, [up("old", minute + timedelta(seconds=s)) for s in (1, 2, 3)])
        insert_checks(conn, [up("old", minute + timedelta(minutes=5))])
        first = rollup.run_pass(conn, settings)
        conn.autocommit = True
        assert first.ran and first.pruned > 0  # the 40-day-old minutes are gone
        insert_checks(conn, [down("old", minute + timedelta(seconds=30), "dns", "no such host")])
        conn.execute("INSERT INTO rollup_dirty (minute) VALUES (%s)", (minute,))  # as a store
        second = rollup.run_pass(conn, settings)
        conn.autocommit = True
        assert second.ran and second.late_minutes == 1
        for table, unit in (
            ("rollup_hour", HOUR),
            ("rollup_hour6", HOUR6),
            ("rollup_day", DAY),
            ("rollup_week", WEEK),
        ):
            ((checks, failures, dns),) = conn.execute(
                f"SELECT checks, failures, fail_dns FROM {table} WHERE target = 'old' "
                "AND bucket = %s",
                (floor_to(minute, unit),),
            ).fetchall()
            assert (checks, failures, dns) == (5, 1, 1), table
        for table in ("rollup_minute", "rollup_minute10"):
            assert conn.execute(
                f"SELECT count(*) FROM {table} WHERE target = 'old'"
            ).fetchall() == [(0,)], table  # no half-empty hour rebuilt from pruned minutes


def test_rollup_once_waits_for_the_lock_or_says_it_did_not_run(env: dict[str, str]) -> None:
    with psycopg.connect(env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
        insert_checks(conn, [up("locked", datetime.now(UTC) - timedelta(minutes=10))])
    children = child_env(env)
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (rollup.ROLLUP_LOCK_KEY,))
        started = time.monotonic()
        done = wac(["rollup", "--once", "--lock-wait", "2"], children)
        assert time.monotonic() - started >= 2  # it waited
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert lines[-1] == (
            "wac: error: another process held the rollup lock for 2 s (--lock-wait): the "
            "rollups were not brought up to date; run it again"
        )
        assert "Traceback" not in done.stderr
        assert query(env, "SELECT watermark FROM rollup_state") == [(None,)]

        waiting = subprocess.Popen(
            [sys.executable, "-m", "wac", "rollup", "--once"],
            env=children,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        assert waiting.poll() is None  # waiting for the lock
        holder.rollback()  # the other pass ends
    _, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    ((watermark,),) = query(env, "SELECT watermark FROM rollup_state")
    assert watermark is not None and watermark > datetime.now(UTC) - timedelta(minutes=5)
