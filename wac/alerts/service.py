"""`wac alert`: results topic → planner → incidents, events, notifications.

This module is the shell around the planner (wac.alerts.planner, which decides and
does no I/O): the Kafka consumer, the transactions, the retries and the rebalances.

Per batch of results, in one PostgreSQL transaction: the changed target states, the
incidents opened or closed, the outbox rows (notifications and events) and the next
offset of each partition. Only then is the Kafka offset committed (for lag tools;
the database copy is what a restart resumes from). A crash anywhere loses nothing and
repeats nothing: the restarted consumer loads the states of its partitions and seeks
to the offsets of the same transaction, and the outbox rows are delivered by the
delivery workers (wac/alerts/outbox.py) exactly once per receiver, give or take a
repeat with the same idempotency key after a crash in mid-delivery.

Time-driven work (reminders, the end of a maintenance window) is planned by a tick
of the same loop, also in a transaction.

While PostgreSQL is away the transaction is retried with backoff, the planner's memory
put back as it was before each attempt. A stop meanwhile gives the batch up (it is
read again at the next start). Nothing leaves a rebalance callback: a failure there
stops the service.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from wac.alerts import metrics
from wac.alerts.config import AlertConfig
from wac.alerts.db import AlertDB
from wac.alerts.outbox import Deliverer, EventSink
from wac.alerts.planner import (
    Effect,
    LoadState,
    OpenIncident,
    Plan,
    Planner,
    run_plan,
)
from wac.alerts.state import TargetState, WentUp
from wac.config import KafkaSettings, redact_url
from wac.db.connect import connect, connect_at_start, error_text
from wac.db.migrate import migrate
from wac.errors import WacError
from wac.runtime.backoff import Backoff
from wac.runtime.kafka import connect_check, ensure_topic
from wac.runtime.kafka_clients import consumer_config
from wac.runtime.kafka_fatal import consumer_failed, is_fatal
from wac.runtime.kafka_watch import CONSUMER_STUCK, KafkaWatch, consumer_waiting
from wac.runtime.outage import OutageTracker, emit
from wac.runtime.rebalance import guarded
from wac.runtime.stop import Stop

log = logging.getLogger(__name__)

APPLICATION_NAME = "wac-alert"  # how its connection shows in pg_stat_activity
BATCH_SIZE = 1000
BATCH_WAIT_S = 0.2
TICK_S = 0.25
MAX_BACKOFF_S = 30.0

_T = TypeVar("_T")


class Stopped(Exception):
    """A stop came while the database was away: the work was given up."""


@dataclass(frozen=True)
class AlertSettings:
    kafka: KafkaSettings
    postgres_url: str
    group_id: str
    events_topic: str
    instance_id: str | None = None
    # A larger message is skipped, as the store rejects it (WAC_STORE_MAX_MESSAGE_BYTES).
    max_message_bytes: int = 65536


class AlertService:
    def __init__(
        self,
        settings: AlertSettings,
        config: AlertConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.config = config
        self.clock = clock
        self.topic = settings.kafka.topic
        self._stop = Stop(log, "finishing the current batch")
        self.stopping = self._stop.event
        self.planner = Planner(config, self.topic, settings.max_message_bytes)
        self.assigned: set[int] = set()
        self._resumed: list[TopicPartition] = []  # offsets loaded at the last assignment
        # partition -> the next offset this process loaded or wrote last (absent: none
        # stored); a different one in the database means another process wrote it.
        self._written: dict[int, int] = {}
        self._db: AlertDB | None = None
        self._deliverer: Deliverer | None = None
        # One line when an outage starts, one when it ends, whichever thread sees it.
        self.db_outage = OutageTracker("PostgreSQL", meanwhile="retrying with backoff")
        # Served by the consuming thread (librdkafka's callbacks run in `consume`).
        self.watch = KafkaWatch(
            log,
            meanwhile="waiting for it; nothing is lost, results are read when it is back",
            stuck=CONSUMER_STUCK,
            waiting=consumer_waiting,
        )

    @property
    def states(self) -> dict[str, TargetState]:
        return self.planner.states

    # --- life cycle ---------------------------------------------------------------
    def stop(self, signum: int | None = None) -> None:
        """Finish the current batch, then stop (SIGTERM does this)."""
        self._stop(signum)

    def run(self) -> None:
        s = self.settings
        conn = connect_at_start(s.postgres_url, application_name=APPLICATION_NAME)
        migrate(conn)
        self._db = AlertDB(conn, s.group_id)
        connect_check(s.kafka)
        ensure_topic(s.kafka)
        ensure_topic(replace(s.kafka, topic=s.events_topic))
        events = EventSink(s.kafka, s.events_topic)
        self._deliverer = Deliverer(
            s.postgres_url,
            s.group_id,
            self.config.notifiers,
            events,
            self.config.delivery,
            db_outage=self.db_outage,
        )
        for notifier in self.config.notifiers.values():
            log.info("notifier %s: %s", notifier.name, notifier.describe())
        self._deliverer.start()
        consumer = Consumer(
            consumer_config(
                s.kafka, group_id=s.group_id, watch=self.watch, instance_id=s.instance_id
            )
        )
        fail = self._stop.fail
        consumer.subscribe(
            [self.topic],
            on_assign=guarded(self._on_assign, what="assigning partitions", on_failure=fail),
            on_revoke=guarded(self._on_revoke, what="revoking partitions", on_failure=fail),
            on_lost=guarded(self._on_revoke, what="losing partitions", on_failure=fail),
        )
        log.info(
            "alert consuming %s on %s as group %s; events to %s; incidents in %s",
            self.topic,
            s.kafka.endpoint,
            s.group_id,
            s.events_topic,
            redact_url(s.postgres_url),
        )
        try:
            self._consume(consumer, events)
        except Stopped:
            pass  # logged where the database was found away
        except WacError as exc:  # KafkaFatal: one line, exit code 2
            self._stop.fail(exc)
        finally:
            with contextlib.suppress(KafkaException, RuntimeError):
                consumer.close()
            self._deliverer.stop()
            with contextlib.suppress(psycopg.Error):
                self.db.conn.close()
            log.info("alert stopped")
        self._stop.raise_failure()

    def _consume(self, consumer: Consumer, events: EventSink) -> None:
        next_tick = 0.0
        while not self.stopping.is_set():
            batch = self._results(consumer.consume(BATCH_SIZE, BATCH_WAIT_S))
            if self._resumed:
                # Kafka's copy of the offsets catches up with the database's: a partition
                # that moved after its results were all read would otherwise show a lag
                # that no message clears (and a Kafka outage logged for it).
                with contextlib.suppress(KafkaException):
                    consumer.commit(offsets=self._resumed, asynchronous=True)
                self._resumed = []
            if batch:
                self.watch.progress()
                self._commit(functools.partial(self._plan_batch, batch))
                with contextlib.suppress(KafkaException):
                    consumer.commit(offsets=_next_offsets(batch), asynchronous=True)
            if time.monotonic() >= next_tick:
                self._tick()
                next_tick = time.monotonic() + TICK_S
            if events.failed is not None:
                raise events.failed

    @property
    def db(self) -> AlertDB:
        assert self._db is not None
        return self._db

    def _results(self, messages: list[Message]) -> list[Message]:
        """The messages that carry a value; a consumer that failed for good stops wac alert."""
        batch = []
        for message in messages:
            error = message.error()
            if error is None:
                batch.append(message)
            elif is_fatal(error):
                raise consumer_failed(error, "wac alert")
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("Kafka: %s", error.str())
        return batch

    # --- partitions ------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        numbers = [tp.partition for tp in partitions]
        try:
            loaded, offsets = self._in_transaction(
                lambda: (
                    self.db.load_states(self.topic, numbers),
                    self.db.load_offsets(self.topic, numbers),
                )
            )
        except Stopped:
            consumer.assign([])  # stopping: read nothing (the next start takes them)
            return
        fresh = [tp for tp in partitions if tp.partition not in offsets]
        start_at = self._lookback_offsets(consumer, fresh)
        for tp in partitions:
            tp.offset = offsets.get(tp.partition, start_at.get(tp.partition, OFFSET_BEGINNING))
        self.planner.adopt(loaded)
        self.assigned.update(numbers)
        consumer.assign(partitions)
        # Committed to Kafka by the loop, out of this callback.
        self._resumed = [TopicPartition(self.topic, p, o) for p, o in offsets.items()]
        for p in numbers:
            self._written.pop(p, None)
        self._written.update(offsets)
        log.info(
            "assigned partitions %s: %d target states loaded, resuming at %s",
            numbers,
            len(loaded),
            {tp.partition: tp.offset for tp in partitions},
        )

    def _lookback_offsets(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> dict[int, int]:
        """Where a partition this group never read starts: `start_lookback` ago."""
        if not partitions:
            return {}
        since_ms = int((time.time() - self.config.start_lookback) * 1000)
        try:
            # The end as of before the time query: a partition with nothing newer than
            # `since` starts there, and nothing produced after the query is skipped.
            ends = {
                tp.partition: consumer.get_watermark_offsets(
                    TopicPartition(self.topic, tp.partition), timeout=10, cached=False
                )[1]
                for tp in partitions
            }
            query = [TopicPartition(self.topic, tp.partition, since_ms) for tp in partitions]
            found = consumer.offsets_for_times(query, timeout=10)
        except KafkaException as exc:
            log.warning("cannot look offsets up by time (%s); reading from the start", exc)
            return {}
        return {tp.partition: tp.offset if tp.offset >= 0 else ends[tp.partition] for tp in found}

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        gone = {tp.partition for tp in partitions}
        self._resumed = [tp for tp in self._resumed if tp.partition not in gone]
        for p in gone:
            self._written.pop(p, None)
        self.planner.forget(gone)
        self.assigned -= gone
        log.info("partitions %s revoked", sorted(gone))

    # --- transactions ----------------------------------------------------------------
    def _commit(self, planning: Callable[[], Plan]) -> None:
        """Plan and write one transaction; then log its lines and count it."""
        plan = self._in_transaction(lambda: self._write(planning()))
        self._written.update(plan.offsets)
        for line in plan.lines:
            emit(log, line)
        metrics.RESULTS.inc(plan.results)
        metrics.INCIDENTS.inc(plan.incidents)
        metrics.REJECTED.inc(len(plan.rejected))

    def _plan_batch(self, batch: list[Message]) -> Plan:
        return run_plan(self.planner.plan_batch(self._fenced(batch), self.clock()), self._perform)

    def _fenced(self, batch: list[Message]) -> list[Message]:
        """The messages of partitions still this process's: a partition whose stored
        offset is not the one this process last wrote (or loaded) was taken over while
        this process was paused past its session (SIGSTOP, a long stall); its results
        are the new owner's, and planning them here would repeat its notifications."""
        partitions = {_partition(m) for m in batch}
        stored = self.db.lock_offsets(self.topic, partitions)
        lost = {
            p for p in partitions if p not in self.assigned or stored.get(p) != self._written.get(p)
        }
        if not lost:
            return batch
        log.warning(
            "partition(s) %s were taken over by another member of the group: their "
            "results are left to it",
            sorted(lost),
        )
        return [m for m in batch if _partition(m) not in lost]

    def _plan_tick(self) -> Plan:
        return self.planner.plan_tick(self.clock())

    def _tick(self) -> None:
        """Reminders and ended maintenance windows; most ticks find nothing to write, and
        then open no transaction."""
        self.planner.begin()
        found = self._plan_tick()
        if found.outbox or found.states:  # (an empty plan changed nothing in memory)
            self.planner.rollback()  # made again in its transaction, which may be retried
            self._commit(self._plan_tick)

    def _write(self, plan: Plan) -> Plan:
        self.db.enqueue(plan.outbox)
        self.db.save_states(plan.states)
        self.db.save_offsets(self.topic, plan.offsets)
        self.db.reject(plan.rejected)
        return plan

    def _perform(self, effect: Effect) -> Any:
        """What the planner asks of the database, in the running transaction."""
        if isinstance(effect, LoadState):
            return self.db.load_state(effect.target)
        if isinstance(effect, OpenIncident):
            down = effect.change
            return self.db.open_incident(
                effect.target, down.started, down.cause, list(down.locations)
            )
        if isinstance(effect.change, WentUp):
            return self.db.close_incident(effect.incident_id, effect.change.ended)
        return self.db.update_incident_locations(effect.incident_id, list(effect.change.locations))

    def _in_transaction(self, work: Callable[[], _T]) -> _T:
        """Run `work` in a transaction; while the database is away, undo and retry with
        backoff. Raises Stopped when a stop comes meanwhile."""
        backoff = Backoff(cap=MAX_BACKOFF_S)
        while True:
            self.planner.begin()
            started = time.monotonic()
            try:
                with self.db.conn.transaction():
                    value = work()
                now = time.monotonic()
                emit(log, self.db_outage.up(now))
                if backoff.attempts:
                    # The time spent waiting for the database was not Kafka's doing.
                    self.watch.restart_clock()
                if self._deliverer is not None:
                    self._deliverer.wake.set()
                return value
            except psycopg.OperationalError as exc:
                self.planner.rollback()
                reason = error_text(exc, self.settings.postgres_url)
                emit(log, self.db_outage.down(reason, time.monotonic(), since=started))
                if backoff.wait(self.stopping):
                    log.warning("stopping while PostgreSQL is away: left for the next start")
                    raise Stopped from None
                self._reconnect()

    def _reconnect(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.db.conn.close()
        with contextlib.suppress(psycopg.OperationalError):
            self._db = AlertDB(
                connect(self.settings.postgres_url, application_name=APPLICATION_NAME),
                self.settings.group_id,
            )


def _partition(message: Message) -> int:
    partition = message.partition()
    assert partition is not None  # a consumed message has one
    return partition


def _next_offsets(messages: list[Message]) -> list[TopicPartition]:
    last: dict[tuple[str, int], int] = {}
    for message in messages:
        partition, offset = message.partition(), message.offset()
        assert partition is not None and offset is not None
        key = (message.topic() or "", partition)
        last[key] = max(last.get(key, -1), offset)
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
