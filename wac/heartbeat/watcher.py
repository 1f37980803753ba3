"""The monitor's heartbeat watcher: publishes a down result for each missed period.

A monitor hands its push:// targets to a `PushWatcher` (a thread) instead of its check
loop. Every second the watcher reads the targets' state from PostgreSQL (`push_pings`:
the newest ping, which `wac web` writes before publishing the ping's up result, and how
far the down results were published), works out the periods missed since
(wac.heartbeat.periods), publishes their down results with a producer of its own, waits
for Kafka to acknowledge them, and then notes its progress in the table.

Exactly once: a down result's id and time derive from the target and the period, so
one published again (a watcher stopped after Kafka acknowledged it and before the note,
or two monitors watching the same target) is stored once. A watcher that restarts
resumes after the last period noted, and catches up with the periods missed while it
was away (at most `MAX_PERIODS_PER_PASS` a pass).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime

import psycopg

from wac.config import KafkaSettings
from wac.db.connect import connect
from wac.db.migrate import migrate
from wac.errors import first_line
from wac.heartbeat.periods import down_result, missed_periods, options_of
from wac.heartbeat.pings import PingState, note_missed, watch
from wac.result import CheckResult, encode, utc_now
from wac.runtime.confirmed import ConfirmingProducer
from wac.runtime.kafka_clients import producer_config
from wac.runtime.outage import OutageTracker, emit
from wac.targets import Target

log = logging.getLogger(__name__)

PASS_S = 1.0
DELIVERY_TIMEOUT_S = 30.0


class PushWatcher:
    """Watches push targets in a thread of its own (`start`, `set_targets`, `stop`)."""

    def __init__(
        self,
        postgres_url: str,
        kafka: KafkaSettings,
        monitor: str,
        *,
        on_result: Callable[[CheckResult], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._url = postgres_url
        self._kafka = kafka
        self._monitor = monitor
        self._on_result = on_result
        self._clock = clock
        self._targets: dict[str, Target] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="push-watcher", daemon=True)
        self._producer: ConfirmingProducer | None = None
        # One line when the database or Kafka fails, one when the watcher works again.
        self._outages = {
            name: OutageTracker(name, meanwhile="the heartbeat watcher retries every second")
            for name in ("PostgreSQL", "Kafka")
        }
        self._migrated = False
        self.published = 0

    def set_targets(self, targets: Iterable[Target]) -> None:
        with self._lock:
            self._targets = {t.id: t for t in targets if t.scheme == "push"}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(DELIVERY_TIMEOUT_S + 5)
        if self._producer is not None:
            self._producer.flush(5)

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        while not self._stopping.is_set():
            if not self._targets:  # nothing to watch: no connection either
                self._stopping.wait(PASS_S)
                continue
            try:
                if conn is None or conn.closed:
                    conn = connect(self._url, application_name="wac-push-watcher")
                    if not self._migrated:
                        migrate(conn)  # the push_pings table, as the store and web do
                        self._migrated = True
                    conn.autocommit = True
                self.watch_once(conn)
                for outage in self._outages.values():
                    emit(log, outage.up(time.monotonic()))
            except Exception as exc:  # the thread outlives a database or broker outage
                # Besides the database's, the pass's only I/O is the delivery to Kafka.
                name = "PostgreSQL" if isinstance(exc, psycopg.Error) else "Kafka"
                emit(log, self._outages[name].down(first_line(exc), time.monotonic()))
                if conn is not None:
                    conn.close()
                conn = None
            self._stopping.wait(PASS_S)
        if conn is not None:
            conn.close()

    def watch_once(self, conn: psycopg.Connection) -> int:
        """One pass: publish the down results now due; how many were published."""
        with self._lock:
            targets = dict(self._targets)
        if not targets:
            return 0
        states = watch(conn, targets)
        now = self._clock()
        published = 0
        for target_id, target in targets.items():
            state = states.get(target_id)
            if state is not None:
                published += self._publish_missed(conn, target, state, now)
        return published

    def _publish_missed(
        self, conn: psycopg.Connection, target: Target, state: PingState, now: datetime
    ) -> int:
        grace = options_of(target).grace
        periods = missed_periods(
            state.anchor, target.interval, grace, now, after=state.missed_through
        )
        if not periods:
            return 0
        pinged = state.last_ping_at is not None
        results = [
            down_result(target, expected, state.anchor, pinged, self._monitor)
            for expected in periods
        ]
        self._deliver(results)
        note_missed(conn, target.id, periods[-1])
        for result in results:
            log.warning("%s: %s", target.id, result.error.message if result.error else "down")
            if self._on_result is not None:
                self._on_result(result)
        self.published += len(results)
        return len(results)

    def _deliver(self, results: list[CheckResult]) -> None:
        """Produce the results and wait until Kafka has every one (else raise)."""
        producer = self._producer
        if producer is None:
            producer = self._producer = ConfirmingProducer(
                # librdkafka's own message timeout, as before the kit's producer was used
                producer_config(self._kafka, linger_ms=5, message_timeout_ms=300_000),
                what="heartbeat results",
            )
        unconfirmed = producer.send(
            self._kafka.topic,
            ((result.target.encode(), encode(result)) for result in results),
            DELIVERY_TIMEOUT_S,
        )
        if unconfirmed is not None:
            raise RuntimeError(f"Kafka did not take the heartbeat results: {unconfirmed.reason()}")
