"""`wac alert` through a PostgreSQL restart: one outage, two lines, its duration, no loss.

The service's loop and its delivery workers each notice the outage on their own
connections; they share one tracker, so the log has one start and one end line.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.support.processes import wait_for
from tests.support.store import produce, results
from wac.localservices import LocalServices

pytestmark = pytest.mark.integration

TOLERANCE_S = 2.0


def alert_offsets(env: dict[str, str]) -> int:
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(next_offset), 0)::bigint FROM alert_offsets"
            " WHERE consumer_group = %s",
            (f"{env['KAFKA_GROUP_ID']}-alert",),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_postgres_restarted_under_wac_alert_is_one_outage_with_its_duration(
    private_postgres: tuple[LocalServices, dict[str, str]], tmp_path: Path
) -> None:
    services, env = private_postgres
    run = uuid.uuid4().hex[:8]
    log_path = tmp_path / "alert.log"
    with log_path.open("wb") as out:
        alert = subprocess.Popen(
            [sys.executable, "-m", "wac", "alert"], env=env, stdout=out, stderr=out
        )
    try:
        produce(env, results(300, prefix=f"{run}-before-"))
        wait_for(lambda: alert_offsets(env) == 300, 60, "the first results read")
        stopped_at = time.monotonic()
        services.stop_postgres()
        produce(env, results(300, prefix=f"{run}-during-"))
        time.sleep(5)
        services.start_postgres()
        away = time.monotonic() - stopped_at
        produce(env, results(300, prefix=f"{run}-after-"))
        wait_for(lambda: alert_offsets(env) == 900, 60, "every result read")
    finally:
        if alert.poll() is None:
            alert.send_signal(signal.SIGTERM)
        code = alert.wait(60)
    log = log_path.read_text()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    starts = [line for line in log.splitlines() if "PostgreSQL unavailable" in line]
    ends = re.findall(r"PostgreSQL is back after ([0-9.]+) s", log)
    print(f"\nPostgreSQL away {away:.1f} s (stop to ready); wac alert logged {ends} s")
    assert len(starts) == 1 and len(ends) == 1, log[-3000:]
    assert abs(float(ends[0]) - away) <= TOLERANCE_S
