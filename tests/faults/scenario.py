"""Helpers of the fault scenarios: produce known results, count what was stored."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from confluent_kafka import Producer

from wac.config import load_settings
from wac.result import CheckResult, Phases, encode
from wac.runtime.kafka import client_config, ensure_topic


def synthetic_result(target: str) -> CheckResult:
    return CheckResult(
        v=1,
        id=uuid.uuid4(),
        target=target,
        url=f"https://{target}.example/",
        monitor="fault-suite",
        checked_at=datetime.now(UTC),
        ok=True,
        status_code=200,
        response_time_ms=1.0,
        phases=Phases(resolve=0.1, connect=0.2, tls=0.3, processing=0.3, transfer=0.1),
        pattern=None,
        pattern_matched=None,
        tls_expires_at=None,
        error=None,
    )


def produce_results(env: dict[str, str], prefix: str, count: int, targets: int = 50) -> set[str]:
    """Publish `count` results straight to the topic; returns their ids."""
    ensure_topic(load_settings(env).kafka())  # the broker does not auto-create topics
    producer = Producer(
        client_config(load_settings(env).kafka(), **{"enable.idempotence": True, "linger.ms": 20})
    )
    ids = set()
    topic = env["KAFKA_TOPIC"]
    for i in range(count):
        result = synthetic_result(f"{prefix}-{i % targets}")
        ids.add(str(result.id))
        while True:
            try:
                producer.produce(topic, encode(result), key=result.target.encode())
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0, "not every result reached the broker"
    return ids


@dataclass
class Tally:
    produced: int
    stored: int
    lost: int
    duplicated: int

    def line(self, scenario: str) -> str:
        return (
            f"FAULT {scenario}: produced={self.produced} stored={self.stored} "
            f"lost={self.lost} duplicated={self.duplicated}"
        )


def stored_ids(env: dict[str, str], prefix: str) -> tuple[int, set[str]]:
    """(row count, distinct ids) of the rows whose target starts with `prefix`."""
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        rows = conn.execute(
            "SELECT id::text FROM checks WHERE target LIKE %s", (prefix + "%",)
        ).fetchall()
    return len(rows), {r[0] for r in rows}


def tally(env: dict[str, str], prefix: str, produced: set[str]) -> Tally:
    rows, ids = stored_ids(env, prefix)
    return Tally(
        produced=len(produced),
        stored=rows,
        lost=len(produced - ids),
        duplicated=rows - len(ids),
    )


def produced_count_from_log(stderr: str) -> int:
    """The monitor's own count, from its shutdown line(s) ('monitor stopped ... N produced').

    With --workers each worker process logs its own line; they add up.
    """
    counts = re.findall(r"monitor stopped[^\n]*?(\d+) produced", stderr)
    assert counts, f"no shutdown summary in the monitor's log:\n{stderr[-2000:]}"
    return sum(int(c) for c in counts)
