"""Fault suite: each scenario on real services, printing produced/stored/lost/duplicated.

`make faults` runs it with the printed tallies shown; `make test` runs it too.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.faults.scenario import (
    produce_results,
    produced_count_from_log,
    stored_ids,
    tally,
)
from tests.support.kafka_read import read_topic
from tests.support.processes import start, stop, wait_for
from tests.support.servers import http_site
from wac.localservices import LocalServices

pytestmark = [pytest.mark.integration, pytest.mark.faults]

OUTAGE_S = 20


@pytest.fixture
def env(fault_env: dict[str, str]) -> dict[str, str]:
    """A topic and consumer group of the scenario's own."""
    suffix = uuid.uuid4().hex[:10]
    return {
        **fault_env,
        "KAFKA_TOPIC": f"faults-{suffix}",
        "KAFKA_GROUP_ID": f"faults-group-{suffix}",
    }


@contextmanager
def site_urls(count: int) -> Iterator[tuple[str, list[str]]]:
    """`count` distinct URLs on a local site; yields (common target-id prefix, urls)."""
    run = uuid.uuid4().hex
    with http_site() as base:
        urls = [f"{base}/ok?run={run}&i={i}" for i in range(count)]
        yield f"GET {base}/ok?run={run}&i=", urls


def wait_all_stored(env: dict[str, str], prefix: str, ids: set[str], timeout: float) -> None:
    wait_for(lambda: ids <= stored_ids(env, prefix)[1], timeout, f"{len(ids)} results stored")
    time.sleep(1)  # a late duplicate, if any, would land now


def topic_ids(env: dict[str, str]) -> set[str]:
    import json

    return {json.loads(value)["id"] for _, value in read_topic(env)}


def drain_then_stop(
    env: dict[str, str], prefix: str, store: subprocess.Popen[str], timeout: float
) -> tuple[set[str], int, str]:
    """Once the monitor has stopped: wait until all it produced is stored, stop the store.

    Returns the produced ids, the store's exit code and its log.
    """
    produced = topic_ids(env)
    try:
        wait_all_stored(env, prefix, produced, timeout)
    finally:
        code, _, log = stop(store)
    return produced, code, log


def test_store_killed_mid_batch_then_restarted(env: dict[str, str]) -> None:
    prefix = f"kill9-{uuid.uuid4().hex[:8]}"
    produced = produce_results(env, prefix, 60_000)
    store = start(["wac", "store"], env)
    try:
        wait_for(lambda: stored_ids(env, prefix)[0] > 0, 60, "the store to begin")
    finally:
        store.kill()  # SIGKILL, mid-run
        _, store_log = store.communicate()
    assert "Traceback" not in store_log, store_log[-3000:]
    stored_before = stored_ids(env, prefix)[0]
    assert stored_before < len(produced), "the kill came too late to be mid-run"
    store = start(["wac", "store"], env)
    try:
        wait_all_stored(env, prefix, produced, 180)
    finally:
        stop(store)
    result = tally(env, prefix, produced)
    print(result.line(f"kill -9 store mid-batch (killed at {stored_before} rows)"))
    assert result.lost == 0 and result.duplicated == 0 and result.stored == len(produced)


def test_broker_stopped_while_monitor_runs(
    env: dict[str, str], fault_services: LocalServices
) -> None:
    with site_urls(20) as (prefix, urls):
        store = start(["wac", "store"], env)
        monitor = start(["wac", "monitor", *urls, "--period", "0.5"], env)
        try:
            wait_for(lambda: stored_ids(env, prefix)[0] > 0, 60, "first rows")
            outage_start = datetime.now(UTC)
            fault_services.stop_kafka()
            time.sleep(OUTAGE_S)
            fault_services.start_kafka()
            outage_end = datetime.now(UTC)
            time.sleep(5)
        finally:
            code, _, monitor_log = stop(monitor, timeout=60)
        assert code == 0, monitor_log[-2000:]
        produced_by_monitor = produced_count_from_log(monitor_log)
        produced, _, _ = drain_then_stop(env, prefix, store, 120)
    result = tally(env, prefix, produced)
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        during = conn.execute(
            "SELECT count(*) FROM checks WHERE target LIKE %s AND checked_at BETWEEN %s AND %s",
            (prefix + "%", outage_start, outage_end),
        ).fetchone()
    print(result.line(f"broker stopped {OUTAGE_S} s while monitoring"))
    print(f"  monitor produced {produced_by_monitor}; checks made during the outage: {during}")
    assert produced_by_monitor == len(produced), "results buffered in the outage went missing"
    assert during is not None and during[0] > 0, "the monitor stopped checking in the outage"
    assert result.lost == 0 and result.duplicated == 0


def test_postgres_stopped_while_store_runs(
    env: dict[str, str], fault_services: LocalServices
) -> None:
    with site_urls(20) as (prefix, urls):
        store = start(["wac", "store"], env)
        monitor = start(["wac", "monitor", *urls, "--period", "0.5"], env)
        try:
            wait_for(lambda: stored_ids(env, prefix)[0] > 0, 60, "first rows")
            fault_services.stop_postgres()
            time.sleep(OUTAGE_S)
            fault_services.start_postgres()
            time.sleep(5)
        finally:
            code, _, monitor_log = stop(monitor, timeout=60)
        assert code == 0, monitor_log[-2000:]
        produced, store_code, store_log = drain_then_stop(env, prefix, store, 120)
    result = tally(env, prefix, produced)
    print(result.line(f"PostgreSQL stopped {OUTAGE_S} s while storing"))
    assert store_code == 0, store_log[-2000:]
    assert result.lost == 0 and result.duplicated == 0
    assert produced_count_from_log(monitor_log) == len(produced)


def test_monitor_killed_and_restarted(env: dict[str, str]) -> None:
    interval = 2.0
    with site_urls(50) as (prefix, urls):
        store = start(["wac", "store"], env)
        args = ["wac", "monitor", *urls, "--period", str(interval)]
        monitor = start(args, env)
        try:
            wait_for(lambda: stored_ids(env, prefix)[0] >= 50, 60, "a first round of checks")
            time.sleep(2)
            monitor.kill()
            monitor.wait()
            restarted_at = datetime.now(UTC)
            monitor = start(args, env)
            time.sleep(3 * interval)
        finally:
            stop(monitor, timeout=60)
        produced, _, _ = drain_then_stop(env, prefix, store, 60)
    result = tally(env, prefix, produced)
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        after = conn.execute(
            "SELECT target, checked_at FROM checks WHERE target LIKE %s AND checked_at > %s",
            (prefix + "%", restarted_at),
        ).fetchall()
        around = conn.execute(
            "SELECT target, checked_at FROM checks WHERE target LIKE %s "
            "AND checked_at BETWEEN %s AND %s ORDER BY checked_at",
            (
                prefix + "%",
                restarted_at - timedelta(seconds=interval),
                restarted_at + timedelta(seconds=interval),
            ),
        ).fetchall()
    windows = Counter(int(at.timestamp() / 0.2) for _, at in after)
    busiest = max(windows.values())
    last_seen: dict[str, datetime] = {}
    closest = interval
    for target, at in around:
        if target in last_seen:
            closest = min(closest, (at - last_seen[target]).total_seconds())
        last_seen[target] = at
    print(result.line("monitor killed (-9) and restarted"))
    print(
        f"  after restart: {len(after)} checks of {len({t for t, _ in after})} targets; "
        f"busiest 200 ms window held {busiest} checks (a burst would be ~50)"
    )
    assert {t for t, _ in after} == {f"{prefix}{i}" for i in range(50)}, "not all resumed"
    print(
        f"  closest two checks of one target across the restart: {closest:.2f} s "
        f"(interval {interval:g} s)"
    )
    assert busiest <= 15, "overdue checks fired all at once after the restart"
    assert closest >= interval * 0.9, "a target was checked again right after the restart"
    assert result.lost == 0 and result.duplicated == 0


def test_two_stores_one_killed(env: dict[str, str]) -> None:
    prefix = f"pair-{uuid.uuid4().hex[:8]}"
    produced = produce_results(env, prefix, 60_000)
    first = start(["wac", "store"], env)
    second = start(["wac", "store"], env)
    try:
        wait_for(lambda: stored_ids(env, prefix)[0] > 0, 60, "the stores to begin")
        first.kill()
        first.wait()
        killed_at = stored_ids(env, prefix)[0]
        wait_all_stored(env, prefix, produced, 180)
    finally:
        stop(second)
        if first.poll() is None:
            stop(first)
    result = tally(env, prefix, produced)
    print(result.line(f"two stores in one group, one killed -9 at {killed_at} rows"))
    assert result.lost == 0 and result.duplicated == 0 and result.stored == len(produced)
