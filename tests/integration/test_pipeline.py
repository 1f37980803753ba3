"""monitor → Kafka over SSL → store → PostgreSQL, on the real local services."""

from __future__ import annotations

import itertools
import json
import uuid

import psycopg
import pytest

from tests.support.kafka_read import read_topic
from tests.support.processes import start, stop, wait_for
from wac.result import decode

pytestmark = pytest.mark.integration


def rows_for(env: dict[str, str], target: str) -> list[dict]:
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        cur.execute("SELECT * FROM checks WHERE target = %s ORDER BY checked_at", (target,))
        return cur.fetchall()


def test_seed_commands_check_publish_and_store(site: str, isolated_env: dict[str, str]) -> None:
    env = isolated_env
    assert env["KAFKA_USE_SSL"] == "true"
    url = f"{site}/ok?run={uuid.uuid4().hex}"
    target = f"GET {url}"
    store = start(["wac.store_results", "--echo"], env)
    monitor = start(["wac.monitor", url, "--period", "0.5"], env)
    try:
        rows = wait_for(
            lambda: len(rows_for(env, target)) >= 4 and rows_for(env, target),
            60,
            "four rows in checks",
        )
    finally:
        monitor_code, _, monitor_err = stop(monitor)
    assert monitor_code == 0, monitor_err
    assert "flushing" in monitor_err

    # Every message the monitor produced is in the topic as valid v1 JSON keyed by target,
    # and the store ends with exactly those rows: none lost, none doubled.
    records = read_topic(env)
    messages = [decode(value) for _, value in records]
    assert all(key == target.encode() for key, _ in records)
    assert all(json.loads(value)["v"] == 1 for _, value in records)
    ids = {str(m.id) for m in messages}
    assert len(ids) == len(messages)
    wait_for(lambda: len(rows_for(env, target)) == len(messages), 30, "all messages stored")
    store_code, store_out, store_err = stop(store)
    assert store_code == 0, store_err
    rows = rows_for(env, target)
    assert {str(r["id"]) for r in rows} == ids
    assert "stored UP" in store_out

    # Interval honoured: --period 0.5 gives checks about half a second apart.
    times = [r["checked_at"] for r in rows]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert all(0.4 <= g <= 1.5 for g in gaps), gaps

    row = rows[0]
    assert row["url"] == url and row["ok"] is True and row["status_code"] == 200
    assert row["error_kind"] is None and row["error_message"] is None
    assert row["resolve_ms"] is not None and row["connect_ms"] is not None
    assert row["processing_ms"] is not None and row["transfer_ms"] is not None
    assert row["tls_ms"] is None and row["response_time_ms"] > 0
    original = next(m for m in messages if str(m.id) == str(row["id"]))
    assert row["checked_at"] == original.checked_at
    assert row["response_time_ms"] == original.response_time_ms
    assert row["monitor"] == original.monitor


def test_failures_are_stored_with_their_kind(site: str, isolated_env: dict[str, str]) -> None:
    env = isolated_env
    url = f"{site}/status/503?run={uuid.uuid4().hex}"
    store = start(["wac.store_results"], env)
    monitor = start(["wac.monitor", url, "--period", "1"], env)
    try:
        rows = wait_for(lambda: rows_for(env, f"GET {url}"), 60, "a row")
    finally:
        stop(monitor)
        stop(store)
    assert rows[0]["ok"] is False and rows[0]["status_code"] == 503
    assert rows[0]["error_kind"] == "status"
    assert "503" in rows[0]["error_message"]
