"""`wac report` as a user runs it, on a known data set in the real PostgreSQL."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.support.checks_data import down, insert_checks, prefix, up
from tests.support.processes import wac
from tests.support.rollups import roll_up_known_checks
from wac.rollups.tiers import floor_to

pytestmark = pytest.mark.integration


def test_report_numbers_status_and_certificate(services_env: dict[str, str]) -> None:
    p = prefix()
    steady, broken = p + "steady", p + "broken"
    now = datetime.now(UTC)
    base = floor_to(now, timedelta(minutes=1)) - timedelta(minutes=100)
    expires = now + timedelta(days=20, hours=1)
    checks = []
    for i in range(100):  # one check a minute for 100 minutes
        at = base + timedelta(minutes=i, seconds=7)
        checks.append(up(steady, at, rt=float(i + 1), tls_expires_at=expires))
        if 40 <= i < 50:
            checks.append(down(broken, at, "connect", "Connection refused"))
        elif i >= 90:
            checks.append(down(broken, at, "timeout", "timed out after 1000 ms"))
        else:
            checks.append(up(broken, at, rt=250.0))
    with psycopg.connect(services_env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
        insert_checks(conn, checks)
        roll_up_known_checks(conn, base, base + timedelta(minutes=100), [steady, broken])

    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    env.update(services_env)
    done = wac(["report", "--since", "3h", "--target", steady, "--target", broken, "--json"], env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = {r["target"]: r for r in report["targets"]}
    assert set(rows) == {steady, broken}

    s = rows[steady]
    assert (s["checks"], s["failures"], s["uptime_pct"]) == (100, 0, 100.0)
    assert s["status"] == "up" and s["since"] == checks[0].checked_at.isoformat().replace(
        "+00:00", "Z"
    )
    assert s["cert_days_left"] == pytest.approx(20.0, abs=0.1)
    rt = s["response_time_ms"]
    assert (rt["min"], rt["max"], rt["avg"]) == (1.0, 100.0, 50.5)
    for q, exact in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert abs(rt[q] - exact) / exact < 0.15, (q, rt[q])

    b = rows[broken]
    assert (b["checks"], b["failures"]) == (100, 20)
    assert b["uptime_pct"] == 80.0
    assert b["failures_by_kind"] == {"connect": 10, "timeout": 10}
    assert b["status"] == "down"
    assert b["last_error"] == {"kind": "timeout", "message": "timed out after 1000 ms"}
    first_down = base + timedelta(minutes=90, seconds=7)
    assert b["since"] == first_down.isoformat().replace("+00:00", "Z")
    assert b["cert_days_left"] is None
    assert b["response_time_ms"]["p50"] == 250.0

    # A window in the past: its numbers, and the target's current status (the store's
    # `targets` table answers "current status"; the history is not replayed for it).
    frm = (base + timedelta(minutes=30)).isoformat()
    to = (base + timedelta(minutes=60)).isoformat()
    done = wac(["report", "--from", frm, "--to", to, "--target", broken, "--json"], env)
    past = json.loads(done.stdout)["targets"][0]
    assert (past["checks"], past["failures"], past["status"]) == (30, 10, "down")
    assert past["since"] == first_down.isoformat().replace("+00:00", "Z")

    # The table.
    done = wac(["report", "--since", "3h", "--target", broken], env)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith(broken))
    assert "DOWN" in line and "80.000%" in line and "connect 10" in line and "timeout 10" in line
    assert line.split()[1] == "http" and s["probe"] == b["probe"] == "http"


def test_report_names_the_probe_and_its_failure_kinds(services_env: dict[str, str]) -> None:
    p = prefix()
    router, cron = p + "router", p + "cron"
    now = datetime.now(UTC)
    base = floor_to(now, timedelta(minutes=1)) - timedelta(minutes=30)
    checks = []
    for i in range(20):
        at = base + timedelta(minutes=i, seconds=3)
        if i >= 15:
            checks.append(down(router, at, "packet_loss", "3 of 3 echo requests unanswered"))
        else:
            checks.append(up(router, at, rt=0.5))
        checks.append(up(cron, at) if i < 10 else down(cron, at, "heartbeat", "no ping"))
    for check in checks:
        check.probe = "icmp" if check.target == router else "push"
        check.url = "icmp://192.0.2.1" if check.target == router else "push://nightly"
    with psycopg.connect(services_env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
        insert_checks(conn, checks)
        roll_up_known_checks(conn, base, base + timedelta(minutes=30), [router, cron])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    env.update(services_env)
    done = wac(["report", "--since", "1h", "--target", router, "--target", cron, "--json"], env)
    assert done.returncode == 0, done.stderr
    rows = {r["target"]: r for r in json.loads(done.stdout)["targets"]}
    assert rows[router]["probe"] == "icmp" and rows[cron]["probe"] == "push"
    assert rows[router]["failures_by_kind"] == {"packet_loss": 5}
    assert rows[cron]["failures_by_kind"] == {"heartbeat": 10}
    assert rows[router]["last_error"]["kind"] == "packet_loss"
    done = wac(["report", "--since", "1h", "--target", router, "--target", cron], env)
    assert done.returncode == 0, done.stderr
    lines = {x.split()[0]: x.split() for x in done.stdout.splitlines() if x.startswith(p)}
    assert lines[router][1:3] == ["icmp", "DOWN"] and "packet_loss" in lines[router]
    assert lines[cron][1:3] == ["push", "DOWN"] and "heartbeat" in lines[cron]


def test_report_usage_errors(services_env: dict[str, str]) -> None:
    env = {**os.environ, **services_env}
    done = wac(["report", "--since", "soon"], env)
    assert done.returncode == 2 and "--since='soon' is not a duration" in done.stderr
    done = wac(["report", "--since", "1h", "--from", "2026-01-01"], env)
    assert done.returncode == 2 and "not both" in done.stderr
