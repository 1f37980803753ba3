"""Exactly once through crashes, replays, a PostgreSQL restart and a shared consumer group."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import start, stop, wait_for
from tests.support.store import committed, counts, group_members, own_schema, produce, results
from wac.config import load_settings
from wac.localservices import LocalServices
from wac.store.service import StoreService
from wac.store.settings import StoreSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def env(isolated_env: dict[str, str]) -> Iterator[dict[str, str]]:
    with own_schema(isolated_env) as schema_env:
        yield schema_env


def test_kill_9_mid_batch_then_restart_gives_the_exact_count(env: dict[str, str]) -> None:
    total = 100_000
    produce(env, results(total, targets=500))
    store = start(["wac", "store"], env)
    try:
        wait_for(lambda: counts(env)[0] > 0, 60, "the first rows", interval=0.02)
    finally:
        store.kill()  # SIGKILL: no clean-up, a batch in flight
        _, err = store.communicate()
    killed_at = counts(env)[0]
    assert 0 < killed_at < total, "the kill should land mid-run"
    assert "Traceback" not in err
    store = start(["wac", "store"], env)
    try:
        wait_for(lambda: committed(env, 3) == total, 120, "every offset committed")
    finally:
        code, _, log = stop(store)
    assert code == 0, log[-2000:]
    assert counts(env) == (total, total)


def test_rows_committed_but_offsets_not_are_replayed_into_nothing(env: dict[str, str]) -> None:
    """A crash between the database commit and the offset commit, made deterministic."""
    total = 3_000
    produce(env, results(total))
    service = StoreService(
        load_settings(env).kafka(),
        env["POSTGRES_ENDPOINT"],
        StoreSettings(batch_size=500, stats_interval_s=0),
    )
    service.offsets.to_commit = lambda: {}  # type: ignore[method-assign]  # never commit
    runner = threading.Thread(target=service.run)
    runner.start()
    try:
        wait_for(lambda: service.stats.inserted == total, 60, "all rows stored")
    finally:
        service.stop()
        runner.join(30)
    assert committed(env, 3) == 0
    store = start(["wac", "store"], env)
    try:
        wait_for(lambda: committed(env, 3) == total, 60, "the replay to commit")
    finally:
        code, _, log = stop(store)
    assert code == 0, log[-2000:]
    assert counts(env) == (total, total)
    assert f"{total} consumed, 0 stored, {total} duplicates ignored" in log


def test_two_stores_in_one_group_give_the_exact_count(env: dict[str, str]) -> None:
    """While results stream in, a second store joins, then the first leaves: two rebalances."""
    total = 40_000
    produced = threading.Thread(
        target=lambda: produce(env, paced(results(total, targets=300), per_second=5_000))
    )
    produced.start()
    first = start(["wac", "store"], env)
    second = None
    try:
        wait_for(lambda: counts(env)[0] > 0, 60, "the first store to begin", interval=0.05)
        second = start(["wac", "store"], env)  # joins: a rebalance
        wait_for(lambda: group_members(env) == 2, 60, "the second store to join", interval=0.05)
        assert produced.is_alive(), "the second store should join mid-stream"
        code, _, first_log = stop(first)  # leaves mid-stream: another rebalance
        assert code == 0, first_log[-2000:]
        assert produced.is_alive(), "the first store should leave mid-stream"
        produced.join(60)
        wait_for(lambda: committed(env, 3) == total, 120, "every offset committed")
    finally:
        produced.join(60)
        if first.poll() is None:
            stop(first)
        if second is not None:
            code, _, second_log = stop(second)
    assert code == 0, second_log[-2000:]
    assert counts(env) == (total, total)
    assert "revoked partitions" in first_log
    assert second_log.count("assigned partitions") >= 2, second_log[-3000:]


def paced(items: list, per_second: int) -> Iterator:
    """The items, at a steady rate."""
    started = time.monotonic()
    for i, item in enumerate(items):
        ahead = i / per_second - (time.monotonic() - started)
        if ahead > 0.005:
            time.sleep(ahead)
        yield item


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_postgres_restarted_mid_run_loses_nothing(
    private_postgres: tuple[LocalServices, dict[str, str]],
) -> None:
    services, env = private_postgres
    store = start(["wac", "store"], {**env, "WAC_STORE_BATCH_SIZE": "500"})
    try:
        produce(env, results(5_000, prefix="before"))
        wait_for(lambda: counts(env)[0] > 0, 60, "the first rows")
        services.stop_postgres()
        produce(env, results(5_000, prefix="during"))
        time.sleep(2)  # the store retries meanwhile
        services.start_postgres()
        produce(env, results(5_000, prefix="after"))
        wait_for(lambda: committed(env, 3) == 15_000, 120, "every offset committed")
    finally:
        code, _, log = stop(store)
    assert code == 0, log[-3000:]
    assert counts(env) == (15_000, 15_000)
    # The outage is logged once, when it starts, and once when it ends.
    assert log.count("PostgreSQL unavailable") == 1, log[-3000:]
    assert log.count("PostgreSQL is back after") == 1, log[-3000:]
    assert "password" not in log.lower() or "***" in log
    assert os.environ.get("POSTGRES_ENDPOINT", "\0") not in log


def _free_ports(count: int) -> int:
    """The first of `count` consecutive free ports."""
    for _ in range(50):
        base = _free_port()
        if base + count < 65536 and all(_port_is_free(base + i) for i in range(count)):
            return base
    raise AssertionError("no free consecutive ports")


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def private_kafka(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: dict[str, str]
) -> Iterator[tuple[LocalServices, dict[str, str]]]:
    """A Kafka of the test's own (stopping it disturbs no other test); shared PostgreSQL."""
    monkeypatch.setenv("WAC_KAFKA_PORT", str(_free_ports(3)))
    services = LocalServices(home=tmp_path / "home")
    try:
        services.start_kafka()
        kafka = {k: v for k, v in services.env().items() if k.startswith("KAFKA_")}
        env = {**isolated_env, **kafka, "KAFKA_TOPIC": isolated_env["KAFKA_TOPIC"]}
        with own_schema(env) as schema_env:
            yield services, schema_env
    finally:
        services.stop_kafka()


def test_broker_away_then_back_loses_nothing(
    private_kafka: tuple[LocalServices, dict[str, str]],
) -> None:
    services, env = private_kafka
    store = start(["wac", "store"], env)
    try:
        produce(env, results(3_000, prefix="before"))
        wait_for(lambda: counts(env)[0] == 3_000, 60, "the first rows")
        services.stop_kafka()
        time.sleep(5)
        services.start_kafka()
        produce(env, results(3_000, prefix="after"))
        wait_for(lambda: committed(env, 3) == 6_000, 120, "every offset committed")
    finally:
        code, _, log = stop(store)
    assert code == 0, log[-3000:]
    assert counts(env) == (6_000, 6_000)
    assert log.count("Kafka unavailable") == 1, log[-3000:]
    assert log.count("Kafka is back after") == 1, log[-3000:]
