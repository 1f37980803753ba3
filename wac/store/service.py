"""The store service: Kafka → batches → PostgreSQL, exactly once, then offsets.

Two threads form a pipeline:

- the *consumer thread* (the caller of `run`) polls Kafka, closes a batch when it is
  full (`batch_size`) or its first message has waited `batch_wait_s`, decodes it and
  hands it to the writer; it commits the offsets of the batches the writer has
  stored, and serves rebalances;
- the *writer thread* writes each batch in one transaction and retries it with backoff
  while PostgreSQL is away, so no offset moves until the batch is stored.

While the writer stores batch N the consumer thread decodes batch N+1: Python decoding
and the database's work overlap (two cores). A crash anywhere before an offset commit
replays the batch and the writer's idempotent path stores nothing twice.

Rebalances (eager protocol: every partition is revoked): on revocation the batches not
yet started are dropped (their messages were never committed: the next owner reads
them again), the batch being written is given a bounded time to finish, and the stored
offsets are committed synchronously while the partitions are still ours.
"""

from __future__ import annotations

import gc
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from wac.config import KafkaSettings, redact_url
from wac.db.connect import connect_at_start
from wac.db.migrate import migrate
from wac.errors import ServiceUnavailable, first_line
from wac.result import CheckResult
from wac.runtime.kafka import client_config, connect_check, ensure_topic, librdkafka_logger
from wac.runtime.kafka_health import STATS_INTERVAL_MS, BrokerNotes, StallWatch, read_stats
from wac.runtime.outage import LogLine, OutageTracker, emit
from wac.store.copy_data import binary_copy
from wac.store.decode import (
    CHECK_TYPES,
    LATE_AFTER,
    Batch,
    decode_batch,
    gc_paused,
    late_minutes,
    time_span,
)
from wac.store.offsets import OffsetBook
from wac.store.partitions import Partitions
from wac.store.settings import StoreSettings
from wac.store.stats import StoreStats
from wac.store.target_status import TargetStatus, summarize
from wac.store.target_status import encode as encode_targets
from wac.store.targets_mirror import TargetsMirror
from wac.store.writer import APPLICATION_NAME, BatchWriter, WriteOutcome, days_of
from wac.targets_topic import TargetsTopicSettings

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
MAINTENANCE_INTERVAL_S = 3600.0
REVOKE_WAIT_S = 30.0
STALL_BEFORE_PAUSE_S = 1.0
STOP_WAIT_S = 30.0
SESSION_TIMEOUT_MS = 10000
SWITCH_INTERVAL_S = 0.0005


@dataclass
class Job:
    batch: Batch
    epoch: int


class StoreService:
    def __init__(
        self,
        kafka: KafkaSettings,
        postgres_url: str,
        settings: StoreSettings | None = None,
        *,
        on_stored: Callable[[list[CheckResult]], None] | None = None,
        targets_topic: TargetsTopicSettings | None = None,
    ) -> None:
        self.kafka = kafka
        self.postgres_url = postgres_url
        self.settings = settings if settings is not None else StoreSettings()
        self.on_stored = on_stored
        # The mirror of the targets topic: a thread and consumer of its own, off the
        # results' path (wac/store/targets_mirror.py); None: not mirrored.
        self.mirror = TargetsMirror(targets_topic, postgres_url) if targets_topic else None
        self.stats = StoreStats()
        self.stopping = threading.Event()
        self.partitions = Partitions(self.settings.retention_days)
        self.targets = TargetStatus(self.settings.targets_refresh_s)
        self.writer = BatchWriter(postgres_url, self.partitions, self.targets)
        self.offsets = OffsetBook()
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self._done: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._epoch = 0
        self._writing = threading.Event()  # set while the writer holds a job
        self._db_down = threading.Event()  # set while the writer waits for PostgreSQL
        self._wake = threading.Event()  # interrupts the writer's backoff
        self._fatal: BaseException | None = None
        self.kafka_outage = OutageTracker(
            "Kafka",
            meanwhile="waiting for it; stored results stay stored, their offsets are committed "
            "when it is back",
        )
        # Served by the consumer thread (librdkafka's callbacks run in `consume`).
        self._kafka_watch = StallWatch(
            self.kafka_outage, stuck="results waiting in the assigned partitions, none fetched"
        )
        self._broker_notes = BrokerNotes()
        self.db_outage = OutageTracker(
            "PostgreSQL",
            meanwhile=f"retrying the batch with backoff up to {MAX_BACKOFF_S:g} s; no Kafka "
            "offset moves until it is stored",
        )
        self._consumer: Consumer | None = None
        self._pending: list[Message] = []
        self._pending_since = 0.0
        self._ready: Job | None = None
        self._paused = False
        self._next_maintenance = 0.0

    # ------------------------------------------------------------------ lifecycle
    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d: finishing the batch being written, then stopping", signum)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    def run(self) -> None:
        self._start_database()
        connect_check(self.kafka)
        ensure_topic(self.kafka)
        consumer = self._consumer = Consumer(self._consumer_config())
        consumer.subscribe(
            [self.kafka.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        log.info(
            "store consuming %s on %s (group %s) into %s; batches of up to %d results or %g s",
            self.kafka.topic,
            self.kafka.endpoint,
            self.kafka.group_id,
            redact_url(self.postgres_url),
            self.settings.batch_size,
            self.settings.batch_wait_s,
        )
        # Two busy threads share the GIL: hand it over sooner than the default 5 ms, so
        # the writer is not kept waiting between two writes to PostgreSQL. And keep the
        # start-up objects out of the cyclic GC's way.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        gc.freeze()
        writer = threading.Thread(target=self._writer_loop, name="store-writer", daemon=True)
        writer.start()
        if self.mirror is not None:
            self.mirror.start()
        try:
            self._consume_loop(consumer)
        finally:
            self._shutdown(consumer, writer)
        if self._fatal is not None:
            raise self._fatal

    def _start_database(self) -> None:
        with connect_at_start(self.postgres_url, application_name=APPLICATION_NAME) as conn:
            migrate(conn)
        try:
            self._maintain(self.writer.connection())
        except psycopg.OperationalError as exc:
            raise ServiceUnavailable(
                f"PostgreSQL at POSTGRES_ENDPOINT={redact_url(self.postgres_url)} went away "
                f"during start-up: {first_line(exc)}"
            ) from None

    def _consumer_config(self) -> dict[str, Any]:
        return client_config(
            self.kafka,
            **{
                "group.id": self.kafka.group_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                # Eager rebalancing: a revocation takes every partition (see the docstring).
                "partition.assignment.strategy": "range",
                "session.timeout.ms": SESSION_TIMEOUT_MS,
                # Lag for the summary line; brokers, group and partitions for outages.
                "statistics.interval.ms": STATS_INTERVAL_MS,
                "stats_cb": self._on_kafka_stats,
                "error_cb": self._on_kafka_error,
                "on_commit": self._on_commit,
                "logger": librdkafka_logger(),
            },
        )

    def _shutdown(self, consumer: Consumer, writer: threading.Thread) -> None:
        self.stop()
        self._epoch += 1  # batches not started are dropped (replayed by the next store)
        self._drain_jobs()
        self._jobs.put(None)
        writer.join(STOP_WAIT_S)
        if writer.is_alive():
            log.warning("the batch being written did not finish in %g s; leaving it", STOP_WAIT_S)
        self._settle(sync=True)
        if self.mirror is not None:
            self.mirror.stop()
        try:
            consumer.close()  # leaves the group (its revocation commits nothing new)
        except (KafkaException, RuntimeError) as exc:
            log.warning("closing the Kafka consumer: %s", exc)
        self.writer.close()
        s = self.stats
        log.info(
            "store stopped: %d consumed, %d stored, %d duplicates ignored, %d rejected, %d expired",
            s.consumed,
            s.inserted,
            s.replayed + s.duplicates,
            s.rejected,
            s.expired,
        )

    # ------------------------------------------------------------------ consumer thread
    def _consume_loop(self, consumer: Consumer) -> None:
        size = self.settings.batch_size
        wait = self.settings.batch_wait_s
        next_summary = time.monotonic() + self.settings.stats_interval_s
        stalled_since: float | None = None
        while not self.stopping.is_set():
            self._settle()
            now = time.monotonic()
            if self.settings.stats_interval_s > 0 and now >= next_summary:
                log.info("%s", self.stats.summary())
                next_summary = now + self.settings.stats_interval_s
            if self._ready is not None and self._hand_over(0):
                stalled_since = None
            if (
                self._ready is None
                and self._pending
                and (len(self._pending) >= size or now - self._pending_since >= wait)
            ):
                self._ready = Job(self._decode(self._pending), self._epoch)
                self._pending = []
                self._hand_over(0)
            if self._ready is not None and len(self._pending) >= size:
                # The writer is a batch behind: wait for it, pausing the partitions if
                # it stalls (PostgreSQL away) while still serving the group.
                if self._hand_over(0.2):
                    stalled_since = None
                    continue
                stalled_since = stalled_since or now
                if not self._paused and now - stalled_since >= STALL_BEFORE_PAUSE_S:
                    self._pause(consumer, True)
                if self._paused:
                    self._take(consumer.consume(size, 0))
                continue
            if self._paused:
                self._pause(consumer, False)
            timeout = max(0.0, wait - (now - self._pending_since)) if self._pending else wait
            if self._ready is not None:
                timeout = min(timeout, 0.05)
            self._take(consumer.consume(max(1, size - len(self._pending)), timeout))

    def _take(self, messages: list[Message]) -> None:
        fetched = False
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("Kafka: %s", error.str())
                continue
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending.append(message)
            fetched = True
        if fetched:
            self._log_kafka(self._kafka_watch.progress(time.monotonic()))

    def _decode(self, messages: list[Message]) -> Batch:
        """Everything the writer needs, done here, while it writes the previous batch."""
        now = datetime.now(UTC)
        batch = decode_batch(
            messages,
            max_bytes=self.settings.max_message_bytes,
            now=now,
            horizon=self.partitions.horizon(now),
        )
        with gc_paused():
            if batch.rows:
                span = time_span(batch.results)
                batch.days = days_of(batch.results, span)
                batch.late_minutes = late_minutes(batch.results, now - LATE_AFTER, span)
            # Against what was written up to the previous batch: a target the batch in
            # flight writes may be written again, which changes nothing.
            batch.target_updates = self.targets.updates(summarize(batch.results))
            # The writer's connection lends psycopg its types (nothing is sent on it);
            # with none open (PostgreSQL away), the writer encodes once it is back.
            conn = self.writer.open_connection()
            try:
                if batch.rows and conn is not None:
                    batch.payload = binary_copy(batch.rows, CHECK_TYPES, conn)
                if batch.target_updates and conn is not None:
                    batch.target_payload = encode_targets(batch.target_updates, conn)
            except (ValueError, TypeError, psycopg.Error) as exc:
                # A value psycopg cannot encode (the writer finds the row and rejects it),
                # or the connection closed meanwhile.
                log.debug("encoding a batch: %s", exc)
                batch.payload = batch.target_payload = None
        return batch

    def _hand_over(self, timeout: float) -> bool:
        assert self._ready is not None
        try:
            if timeout > 0:
                self._jobs.put(self._ready, timeout=timeout)
            else:
                self._jobs.put_nowait(self._ready)
        except queue.Full:
            return False
        self._ready = None
        return True

    def _pause(self, consumer: Consumer, pause: bool) -> None:
        partitions = consumer.assignment()
        try:
            if pause:
                consumer.pause(partitions)
                log.info("writer is behind: Kafka partitions paused until it catches up")
            else:
                consumer.resume(partitions)
        except KafkaException as exc:
            log.warning("Kafka pause/resume: %s", exc)
        self._paused = pause

    def _drain_jobs(self) -> None:
        """Drop the batches not started yet (their offsets were never committed)."""
        self._ready = None
        self._pending = []
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                return

    # ------------------------------------------------------------------ offsets
    def _settle(self, sync: bool = False) -> None:
        """Record the batches the writer stored; commit their offsets."""
        while True:
            try:
                job = self._done.get_nowait()
            except queue.Empty:
                break
            self.offsets.stored(job.batch.offsets)
        consumer = self._consumer
        if consumer is None:
            return
        due = self.offsets.to_commit()
        if not due:
            return
        offsets = [TopicPartition(t, p, o) for (t, p), o in due.items()]
        try:
            if sync:
                consumer.commit(offsets=offsets, asynchronous=False)
            else:
                consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            self.offsets.failed(due)
            log.warning(
                "Kafka offset commit failed (%s); the stored results stay stored and the "
                "commit is retried (a restart would only replay them, adding no row)",
                exc.args[0].str() if exc.args else exc,
            )

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        failed = {
            (tp.topic, tp.partition): tp.offset
            for tp in partitions
            if error is not None or tp.error is not None
        }
        if failed:
            self.offsets.failed(failed)
            log.debug("offset commit failed (%s): will retry", error)

    # ------------------------------------------------------------------ rebalances
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.offsets.assign((tp.topic, tp.partition) for tp in partitions)
        self.targets.reset()
        self._paused = False
        log.info(
            "assigned partitions %s of %s",
            ",".join(str(tp.partition) for tp in partitions) or "(none)",
            self.kafka.topic,
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._epoch += 1
        self._drain_jobs()
        deadline = time.monotonic() + REVOKE_WAIT_S
        while (
            self._writing.is_set()
            and not self._db_down.is_set()
            and time.monotonic() < deadline
            and not self.stopping.is_set()
        ):
            time.sleep(0.01)
        self._settle(sync=True)
        self._release(partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning(
            "Kafka partitions lost (the group session expired): results not committed yet "
            "will be read again, by this store or another"
        )
        self._epoch += 1
        self._drain_jobs()
        self._release(partitions)

    def _release(self, partitions: list[TopicPartition]) -> None:
        self.offsets.revoke((tp.topic, tp.partition) for tp in partitions)
        self.targets.reset()
        self._paused = False
        if partitions:
            log.info(
                "revoked partitions %s of %s",
                ",".join(str(tp.partition) for tp in partitions),
                self.kafka.topic,
            )

    # ------------------------------------------------------------------ Kafka health
    def _on_kafka_error(self, error: KafkaError) -> None:
        if error.fatal():
            log.error("Kafka fatal error: %s; stopping", error.str())
            self._fatal = KafkaException(error)
            self.stop()
            return
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._log_kafka(self._kafka_watch.observe(time.monotonic(), reachable=False))
        else:
            self._kafka_watch.last_error = error.str()
            log.debug("Kafka: %s", error.str())

    def _on_kafka_stats(self, raw: str) -> None:
        view = read_stats(raw)
        if view is None:
            return
        self.stats.set_lag(view.lag)
        for line in self._broker_notes.update(view):
            emit(log, line)
        # Paused partitions are the writer's doing (PostgreSQL away), not Kafka's.
        waiting = not self._paused and (not view.ready or (view.lag or 0) > 0)
        self._log_kafka(
            self._kafka_watch.observe(time.monotonic(), reachable=view.reachable, waiting=waiting)
        )

    def _log_kafka(self, line: LogLine | None) -> None:
        emit(log, line)
        if self.kafka_outage.outages > self.stats.kafka_outages:
            self.stats.outage("kafka")

    # ------------------------------------------------------------------ writer thread
    def _writer_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._writing.set()
            try:
                if job.epoch == self._epoch:
                    self._store(job)
            except BaseException as exc:  # a bug: stop rather than hang
                log.exception("store writer failed")
                self._fatal = exc
                self.stop()
                return
            finally:
                self._writing.clear()

    def _store(self, job: Job) -> None:
        batch = job.batch
        self._maybe_maintain()
        backoff = FIRST_BACKOFF_S
        attempts = 0
        while True:
            if job.epoch != self._epoch:
                if self._db_down.is_set():
                    log.warning("batch given up (partitions revoked or stopping); not stored")
                    self._db_down.clear()
                return
            attempts += 1
            started = time.monotonic()
            try:
                outcome = self.writer.write(batch)
                break
            except psycopg.Error as exc:
                self.writer.reset()
                self._db_down.set()
                line = self.db_outage.down(
                    f"cannot write a batch of {batch.messages} results to "
                    f"{redact_url(self.postgres_url)}: {first_line(exc)}",
                    time.monotonic(),
                    since=started,
                )
                if line is not None:
                    self.stats.outage("postgres")
                    emit(log, line)
                self._wake.wait(backoff)
                self._wake.clear()
                backoff = min(MAX_BACKOFF_S, backoff * 2)
                if self.stopping.is_set():
                    log.warning("stopping while PostgreSQL is away: batch not stored")
                    return
        seconds = time.monotonic() - started
        self._db_down.clear()
        emit(log, self.db_outage.up(time.monotonic(), f"batch stored at attempt {attempts}"))
        self._record(batch, outcome, seconds)
        self._done.put(job)
        if self.on_stored is not None and batch.results:
            self.on_stored(batch.results)

    def _record(self, batch: Batch, outcome: WriteOutcome, seconds: float) -> None:
        freshness = None
        if batch.first_timestamp_ms is not None:
            freshness = max(0.0, time.time() - batch.first_timestamp_ms / 1000)
        self.stats.record_batch(
            messages=batch.messages,
            inserted=outcome.inserted,
            replayed=outcome.replayed,
            duplicates=batch.duplicates,
            rejected=len(outcome.rejected),
            expired=batch.expired,
            target_updates=outcome.targets,
            seconds=seconds,
            freshness_s=freshness,
        )
        if outcome.rejected:
            log.warning(
                "%d message(s) rejected to rejected_messages, first: %s[%d]@%d: %s",
                len(outcome.rejected),
                outcome.rejected[0].topic,
                outcome.rejected[0].partition,
                outcome.rejected[0].offset,
                outcome.rejected[0].reason,
            )
        if batch.expired:
            log.warning(
                "%d result(s) older than the retention of %d days skipped",
                batch.expired,
                self.settings.retention_days,
            )

    def _maybe_maintain(self) -> None:
        if time.monotonic() < self._next_maintenance:
            return
        try:
            self._maintain(self.writer.connection())
        except psycopg.Error as exc:
            self.writer.reset()
            log.warning("partition maintenance failed (%s); retrying later", first_line(exc))
            self._next_maintenance = time.monotonic() + 60

    def _maintain(self, conn: psycopg.Connection) -> None:
        self.partitions.maintain(conn, datetime.now(UTC))
        self._next_maintenance = time.monotonic() + MAINTENANCE_INTERVAL_S
