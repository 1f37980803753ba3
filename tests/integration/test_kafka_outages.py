"""What the services log when Kafka brokers die, on a three-broker cluster of the tests' own.

One broker killed while the other two serve (its partitions get new leaders) is no
outage: the monitor, the store and `wac alert` go on, log no "unavailable" line and lose
nothing. Every broker down is an outage: each service logs it once when it starts and
once when it ends, and the duration it gives is the time it really made no progress,
measured outside the service: the gap in the brokers' append times of the results (the
monitor), in `stored_at` of the rows (the store), in the alert service's saved offsets.
"""

from __future__ import annotations

import itertools
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.support.kafka_cluster import NODES, KafkaCluster
from tests.support.processes import wait_for
from tests.support.store import own_schema

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

TARGETS = 10
INTERVAL = "200ms"  # ten targets: 50 results a second
ALL_DOWN_S = 15.0
TOLERANCE_S = 2.0
OUTAGE_START = "Kafka unavailable"
OUTAGE_END = re.compile(r"Kafka is back after ([0-9.]+) s")


@pytest.fixture
def env(
    kafka_cluster: KafkaCluster, isolated_env: dict[str, str], site: str, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The cluster instead of the local Kafka; a topic, group and schema of the test's own."""
    env = {k: v for k, v in isolated_env.items() if k != "KAFKA_CERT_DIR"}
    env.update(kafka_cluster.env())
    env["KAFKA_PARTITIONS"] = "6"
    env["RUN"] = uuid.uuid4().hex[:8]
    # Append times stamped by the broker: when each result was taken, whatever its clock.
    kafka_cluster.create_topic(env["KAFKA_TOPIC"], 6, **{"message.timestamp.type": "LogAppendTime"})
    targets = "".join(
        f"  - name: {env['RUN']}-{i}\n    url: {site}/ok?t={i}\n" for i in range(TARGETS)
    )
    config = tmp_path / "targets.yaml"
    config.write_text(f"defaults:\n  interval: {INTERVAL}\n  timeout: 2s\ntargets:\n{targets}")
    env["CONFIG"] = str(config)
    with own_schema(env) as schema_env:
        yield schema_env


class Service:
    """A `wac` command in the background, its log in a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.log_path = folder / f"{name}.log"
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "wac", *args], env=env, stdout=out, stderr=out
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(10)
        return code, self.log()


def start_services(env: dict[str, str], folder: Path) -> dict[str, Service]:
    return {
        "monitor": Service(
            "monitor",
            ["monitor", "--config", env["CONFIG"], "--summary-interval", "5"],
            env,
            folder,
        ),
        "store": Service("store", ["store"], env, folder),
        "alert": Service("alert", ["alert"], env, folder),
    }


def stop_all(services: dict[str, Service]) -> dict[str, str]:
    logs = {}
    for name, service in services.items():
        code, log = service.stop()
        assert code == 0, f"{name} exited {code}:\n{log[-3000:]}"
        assert "Traceback" not in log, log[-3000:]
        logs[name] = log
    return logs


def query(env: dict[str, str], sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        return conn.execute(sql, params).fetchall()


def stored_times(env: dict[str, str]) -> list[float]:
    """When each row of this run was stored (epoch seconds), in order."""
    rows = query(
        env,
        "SELECT extract(epoch FROM stored_at)::float8 FROM checks WHERE target LIKE %s ORDER BY 1",
        env["RUN"] + "-%",
    )
    return [r[0] for r in rows]


def stored_ids(env: dict[str, str]) -> tuple[int, int]:
    """(rows, distinct ids) of this run."""
    rows = query(
        env,
        "SELECT count(*), count(DISTINCT id) FROM checks WHERE target LIKE %s",
        env["RUN"] + "-%",
    )
    return rows[0][0], rows[0][1]


def alert_offsets(env: dict[str, str]) -> int:
    rows = query(
        env,
        "SELECT coalesce(sum(next_offset), 0)::bigint FROM alert_offsets WHERE consumer_group = %s",
        f"{env['KAFKA_GROUP_ID']}-alert",
    )
    return int(rows[0][0])


def append_times(env: dict[str, str]) -> list[float]:
    """The brokers' append time of every record in the topic (epoch seconds), in order."""
    consumer = Consumer(
        {
            "bootstrap.servers": env["KAFKA_ENDPOINT"],
            "group.id": f"reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    topic = env["KAFKA_TOPIC"]
    try:
        partitions = consumer.list_topics(topic, timeout=20).topics[topic].partitions
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=20)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        times: list[float] = []
        positions = dict.fromkeys(ends, 0)
        while any(positions[p] < ends[p] for p in ends):
            message = consumer.poll(20)
            assert message is not None and message.error() is None, "topic read failed"
            partition, offset = message.partition(), message.offset()
            assert partition is not None and offset is not None
            times.append(message.timestamp()[1] / 1000)
            positions[partition] = offset + 1
        return sorted(times)
    finally:
        consumer.close()


def largest_gap(times: list[float]) -> tuple[float, float]:
    """The longest time without an event: (its length, when it began)."""
    assert len(times) >= 2
    return max((b - a, a) for a, b in itertools.pairwise(times))


def produced_by(monitor_log: str) -> tuple[int, int, int, int]:
    found = re.search(
        r"monitor stopped .*?(\d+) produced, (\d+) delivered, (\d+) dropped, (\d+) undelivered",
        monitor_log,
    )
    assert found, monitor_log[-2000:]
    produced, delivered, dropped, undelivered = (int(g) for g in found.groups())
    return produced, delivered, dropped, undelivered


def leader_of_partition_0(cluster: KafkaCluster, topic: str) -> int:
    admin = cluster.admin()
    return int(admin.list_topics(topic, timeout=10).topics[topic].partitions[0].leader)


class Sampler:
    """Samples a counter every 0.2 s in a thread: when it last changed, and the gaps."""

    def __init__(self, read: object) -> None:
        self._read = read
        self.changes: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = None
        while not self._stop.wait(0.2):
            value = self._read()  # type: ignore[operator]
            if value != last:
                self.changes.append(time.time())
                last = value

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def test_one_broker_killed_is_no_outage_and_loses_nothing(
    kafka_cluster: KafkaCluster, env: dict[str, str], tmp_path: Path
) -> None:
    services = start_services(env, tmp_path)
    try:
        wait_for(lambda: stored_ids(env)[0] > 0, 60, "the first rows")
        wait_for(lambda: alert_offsets(env) > 0, 60, "the alert service's first batch")
        victim = leader_of_partition_0(kafka_cluster, env["KAFKA_TOPIC"])
        rows_before, alerts_before = stored_ids(env)[0], alert_offsets(env)
        killed_at = time.time()
        kafka_cluster.kill(victim)
        time.sleep(12)  # the controller fences it after 3 s; its partitions get new leaders
        rows_while_down, alerts_while_down = stored_ids(env)[0], alert_offsets(env)
        restarted_at = time.time()
        kafka_cluster.launch(victim)
        kafka_cluster.wait_ready()
        kafka_cluster.wait_in_sync([env["KAFKA_TOPIC"]])
        time.sleep(2)
        code, monitor_log = services["monitor"].stop()
        produced, delivered, dropped, undelivered = produced_by(monitor_log)
        wait_for(lambda: stored_ids(env)[0] >= produced, 60, "every result stored")
    finally:
        logs = stop_all(services)
    assert code == 0, monitor_log[-3000:]
    for name, log in logs.items():
        assert "unavailable" not in log, f"{name}:\n{log[-3000:]}"
        errors = [line for line in log.splitlines() if " ERROR " in line]
        assert not errors, f"{name}: {errors}"
    appended = append_times(env)
    during = [t for t in appended if killed_at + 6 < t < restarted_at]
    print(
        f"\none broker (node {victim}) killed for {restarted_at - killed_at:.1f} s: monitor "
        f"produced {produced}, delivered {delivered}, in the topic {len(appended)} "
        f"({len(during)} appended while it was down); store rows {rows_before} -> "
        f"{rows_while_down} while down; alert offsets {alerts_before} -> {alerts_while_down}"
    )
    assert (delivered, dropped, undelivered) == (produced, 0, 0)
    assert len(appended) == produced, "results lost or duplicated in the topic"
    assert during, "no result was delivered while the broker was down"
    assert rows_while_down > rows_before and alerts_while_down > alerts_before
    assert stored_ids(env) == (produced, produced)


def test_every_broker_down_is_one_outage_logged_with_its_true_duration(
    kafka_cluster: KafkaCluster, env: dict[str, str], tmp_path: Path
) -> None:
    services = start_services(env, tmp_path)
    sampler = Sampler(lambda: alert_offsets(env))
    try:
        wait_for(lambda: stored_ids(env)[0] > 0, 60, "the first rows")
        wait_for(lambda: alert_offsets(env) > 0, 60, "the alert service's first batch")
        time.sleep(3)
        down_at = time.time()
        kafka_cluster.kill_all()
        time.sleep(ALL_DOWN_S)
        for node in NODES:
            kafka_cluster.launch(node)
        kafka_cluster.wait_ready()
        up_at = time.time()
        wait_for(
            lambda: all(OUTAGE_END.search(s.log()) for s in services.values()),
            120,
            "every service to log the end of the outage",
        )
        time.sleep(2)
        code, monitor_log = services["monitor"].stop()
        produced, _, _, undelivered = produced_by(monitor_log)
        wait_for(lambda: stored_ids(env)[0] >= produced, 60, "every result stored")
    finally:
        sampler.stop()
        logs = stop_all(services)
    kafka_cluster.wait_in_sync([env["KAFKA_TOPIC"]])
    assert code == 0 and undelivered == 0, monitor_log[-3000:]
    assert stored_ids(env) == (produced, produced)
    truth = {
        "monitor": largest_gap(append_times(env)),
        "store": largest_gap(stored_times(env)),
        "alert": largest_gap(sampler.changes),
    }
    print(f"\nall brokers down for {up_at - down_at:.1f} s (killed, then restarted until ready)")
    for name, log in logs.items():
        starts = [line for line in log.splitlines() if OUTAGE_START in line]
        ends = OUTAGE_END.findall(log)
        gap, began = truth[name]
        print(
            f"  {name}: logged back after {ends} s; measured stall {gap:.1f} s "
            f"from {began - down_at:+.1f} s"
        )
        assert len(starts) == 1 and len(ends) == 1, f"{name}:\n{log[-4000:]}"
        assert "ERROR" in starts[0], starts[0]
        assert abs(float(ends[0]) - gap) <= TOLERANCE_S, f"{name}: logged {ends[0]}, true {gap}"
        assert abs(began - down_at) <= TOLERANCE_S, f"{name}: stalled at {began}, down {down_at}"
