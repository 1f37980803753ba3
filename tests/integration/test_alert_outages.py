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


def test_a_rebalance_while_postgres_is_away_then_a_stop_raises_nothing_and_exits_0(
    private_postgres: tuple[LocalServices, dict[str, str]], tmp_path: Path
) -> None:
    """The partitions come back to `wac alert` while its database is away: loading their
    states waits in the rebalance callback; a SIGTERM then ends the wait there, and
    nothing is raised out of the callback (it used to raise SystemExit)."""
    services, env = private_postgres
    log_path = tmp_path / "alert.log"
    with log_path.open("wb") as out:
        alert = subprocess.Popen(
            [sys.executable, "-m", "wac", "alert"], env=env, stdout=out, stderr=out
        )
    member = None
    try:
        produce(env, results(50, prefix=f"{uuid.uuid4().hex[:8]}-"))
        wait_for(lambda: alert_offsets(env) == 50, 60, "the results read")
        with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
            names = {
                row[0]
                for row in conn.execute(
                    "SELECT application_name FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                )
            }
        assert "wac-alert" in names and "wac-store" not in names, names  # its own name
        services.stop_postgres()
        # A second member of the group: the partitions are revoked and assigned again.
        member = GroupMember(env, f"{env['KAFKA_GROUP_ID']}-alert")
        wait_for(lambda: "revoked" in log_path.read_text(), 60, "the rebalance")
        time.sleep(3)  # the assignment waits for PostgreSQL (nothing else asks it for work)
        alert.send_signal(signal.SIGTERM)
        code = alert.wait(60)
    finally:
        if member is not None:
            member.close()
        if alert.poll() is None:
            alert.kill()
            alert.wait()
        services.start_postgres()
    log = log_path.read_text()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log and "SystemExit" not in log, log[-3000:]
    assert "stopping while PostgreSQL is away" in log, log[-3000:]  # in the assignment
    after = log.split("revoked", 1)[1]
    assert "assigned partitions" not in after, log[-3000:]  # nothing read meanwhile
    assert "alert stopped" in log


class GroupMember:
    """A plain consumer in a group, polling in a thread until closed."""

    def __init__(self, env: dict[str, str], group: str) -> None:
        import threading

        from confluent_kafka import Consumer

        from wac.config import load_settings
        from wac.runtime.kafka_clients import consumer_config

        kafka = load_settings(env).kafka()
        self._consumer = Consumer(consumer_config(kafka, group_id=group))
        self._consumer.subscribe([kafka.topic])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._consumer.consume(10, 0.2)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()
