"""AlertService's batch transaction: a database failure undoes the in-memory state too."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.unit.test_alert_state import result
from wac.alerts.config import AlertConfig, Rules
from wac.alerts.db import EVENTS_CHANNEL, OutboxRow
from wac.alerts.messages import notification_decoder
from wac.alerts.planner import Plan
from wac.alerts.service import AlertService, AlertSettings
from wac.config import KafkaSettings
from wac.result import encode

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


class FakeMessage:
    def __init__(self, offset: int, value: bytes) -> None:
        self._offset, self._value = offset, value

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value

    def topic(self) -> str:
        return "results"

    def key(self) -> bytes | None:
        return None


class FakeConn:
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield


class FakeDB:
    """Records what a committed transaction would hold; fails the first `fail` commits."""

    def __init__(self, fail: int) -> None:
        self.conn = FakeConn()
        self.fail = fail
        self.next_id = 100
        self.committed_outbox: list[OutboxRow] = []
        self.committed_offsets: dict[int, int] = {}
        self.pending: list[OutboxRow] = []
        self.rejected: list[Any] = []

    def load_state(self, target: str) -> None:
        return None

    def load_states(self, topic: str, partitions: Any) -> dict[str, Any]:
        self.attempt()
        return {}

    def load_offsets(self, topic: str, partitions: Any) -> dict[int, int]:
        return {}

    def lock_offsets(self, topic: str, partitions: Any) -> dict[int, int]:
        return {p: o for p, o in self.committed_offsets.items() if p in partitions}

    def attempt(self) -> None:
        if self.fail > 0:
            self.fail -= 1
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    def open_incident(self, target: str, started: datetime, cause: str, locations: Any) -> int:
        self.next_id += 1
        return self.next_id

    def close_incident(self, incident_id: int, ended: datetime) -> None:
        pass

    def update_incident_locations(self, incident_id: int, locations: Any) -> None:
        pass

    def enqueue(self, rows: list[OutboxRow]) -> None:
        self.pending = list(rows)

    def save_states(self, rows: Any) -> None:
        pass

    def reject(self, rows: Any) -> None:
        self.rejected += rows

    def save_offsets(self, topic: str, offsets: dict[int, int]) -> None:
        self.attempt()
        self.committed_outbox += self.pending
        self.committed_offsets.update(offsets)


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> AlertService:
    kafka = KafkaSettings(
        endpoint="127.0.0.1:9",
        cert_dir=Path("."),
        topic="results",
        client_id="c",
        group_id="g",
        use_ssl=False,
        partitions=1,
    )
    config = AlertConfig(
        defaults=Rules(failure_threshold=3, reminder_interval=None),
        notifiers={"hook": object()},  # type: ignore[dict-item]
    )
    svc = AlertService(
        AlertSettings(kafka, "postgresql://u@h/db", "g-alert", "results-events"),
        config,
        clock=lambda: T0 + timedelta(minutes=1),
    )
    monkeypatch.setattr(svc, "_reconnect", lambda: None)
    return svc


def test_a_failed_batch_transaction_is_retried_from_the_state_before_it(
    service: AlertService, caplog: pytest.LogCaptureFixture
) -> None:
    db = FakeDB(fail=2)
    service._db = db  # type: ignore[assignment]
    service.assigned = {0}  # the messages' partition is this process's
    target = f"t-{uuid.uuid4().hex[:6]}"
    batch: Any = [
        FakeMessage(i, encode(result(False, T0 + timedelta(seconds=i), target=target)))
        for i in range(3)
    ]
    with caplog.at_level(logging.INFO):
        service._commit(functools.partial(service._plan_batch, batch))

    state = service.states[target]
    assert state.locations["eu"].failures == 3  # counted once, not once per attempt
    assert state.incident is not None and state.incident.id == db.next_id  # the last attempt's
    assert db.committed_offsets == {0: 3}
    kinds = [(row.channel, row.kind) for row in db.committed_outbox]
    assert kinds == [(EVENTS_CHANNEL, "incident_opened"), ("hook", "down")]
    down = notification_decoder.decode(db.committed_outbox[1].payload)
    assert down.incident is not None and down.incident.id == db.next_id
    assert down.at == T0 + timedelta(seconds=2)
    # Logged once, after the commit: not once per attempt.
    assert sum(f"{target} is DOWN" in r.getMessage() for r in caplog.records) == 1
    assert sum("PostgreSQL unavailable" in r.getMessage() for r in caplog.records) == 1
    assert sum("PostgreSQL is back" in r.getMessage() for r in caplog.records) == 1


def test_a_target_first_seen_in_a_failed_batch_is_forgotten(service: AlertService) -> None:
    db = FakeDB(fail=1)
    service._db = db  # type: ignore[assignment]
    service.assigned = {0}  # the messages' partition is this process's
    batch: Any = [FakeMessage(0, encode(result(True, T0, target="fresh")))]
    seen: list[bool] = []

    def work() -> Plan:
        seen.append("fresh" in service.states)  # before this attempt
        return service._plan_batch(batch)

    service._commit(work)
    assert seen == [False, False]  # the failed attempt's new state was dropped
    assert service.states["fresh"].locations["eu"].successes == 1


def test_a_message_that_is_not_a_result_is_skipped_counted_and_kept(
    service: AlertService, caplog: pytest.LogCaptureFixture
) -> None:
    from wac.alerts import metrics

    db = FakeDB(fail=0)
    service._db = db  # type: ignore[assignment]
    service.assigned = {0}  # the messages' partition is this process's
    good = encode(result(False, T0, target="shop"))
    deep = good[:-1] + b',"x":' + b"[" * 5000 + b"]" * 5000 + b"}"
    poison = [
        b"not json",
        deep,
        good.replace(b'"response_time_ms":1.0', b'"response_time_ms":1e308'),
    ]
    batch: Any = [FakeMessage(i, value) for i, value in enumerate([*poison, good])]
    before = metrics.REJECTED._value.get()
    service._commit(functools.partial(service._plan_batch, batch))

    assert [r.offset for r in db.rejected] == [0, 1, 2]
    assert "not JSON" in db.rejected[0].reason
    assert "nested more than 32 levels" in db.rejected[1].reason
    assert "$.response_time_ms" in db.rejected[2].reason
    assert metrics.REJECTED._value.get() - before == 3
    assert "3 message(s) skipped, not v1 results" in caplog.text
    assert service.states["shop"].locations["eu"].failures == 1  # the good one counted
    assert db.committed_offsets == {0: 4}


class RecordingConsumer:
    def __init__(self) -> None:
        self.assigned: list[Any] | None = None

    def assign(self, partitions: list[Any]) -> None:
        self.assigned = partitions


def test_an_assignment_given_up_by_a_stop_raises_nothing_and_assigns_nothing(
    service: AlertService,
) -> None:
    """The rebalance callback, while the database is away, when a stop comes."""
    from confluent_kafka import TopicPartition

    service._db = FakeDB(fail=1_000)  # type: ignore[assignment]
    consumer = RecordingConsumer()
    threading.Timer(0.3, service.stop).start()
    started = time.monotonic()
    service._on_assign(consumer, [TopicPartition("results", 0)])  # type: ignore[arg-type]
    assert time.monotonic() - started < 5  # the stop cut the backoff short
    assert consumer.assigned == []
    assert service.planner.states == {} and service.assigned == set()


def test_a_partition_another_process_took_over_is_left_to_it(
    service: AlertService, caplog: pytest.LogCaptureFixture
) -> None:
    """Paused past its session (SIGSTOP), a process finds its partition's offset moved
    on by the new owner: it plans nothing of it, so nothing is notified twice."""
    db = FakeDB(fail=0)
    service._db = db  # type: ignore[assignment]
    service.assigned = {0}  # the messages' partition is this process's
    first: Any = [FakeMessage(0, encode(result(True, T0, target="shop")))]
    service._commit(functools.partial(service._plan_batch, first))
    assert db.committed_offsets == {0: 1}
    db.committed_offsets[0] = 40  # the new owner read on meanwhile
    late: Any = [
        FakeMessage(i, encode(result(False, T0 + timedelta(seconds=i), target="shop")))
        for i in range(1, 4)
    ]
    with caplog.at_level(logging.WARNING):
        service._commit(functools.partial(service._plan_batch, late))
    assert db.pending == [] and db.committed_offsets == {0: 40}
    assert service.states["shop"].locations["eu"].failures == 0
    assert "partition(s) [0] were taken over by another member" in caplog.text
