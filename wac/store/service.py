"""The store service: Kafka → batches → PostgreSQL, exactly once, then offsets.

Three stages with one job each, in two threads:

- the consumer stage (`wac.store.consumer`, the thread that calls `run`) fetches
  results and serves rebalances; its batcher (`wac.store.batcher`) closes and prepares
  batches;
- the writer stage (`wac.store.writer_thread`) writes each batch in one transaction
  (`wac.store.writer`), retrying while PostgreSQL is away;
- the offsets stage (`wac.store.offsets`), back in the consumer thread, commits the
  offsets of the batches stored, never before.

While the writer stores batch N the consumer thread prepares batch N+1: Python
decoding and the database's work overlap (two cores). A crash anywhere before an
offset commit replays the batch, and the writer's idempotent path stores nothing twice.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable

import psycopg
from confluent_kafka import Consumer, KafkaException

from wac.config import KafkaSettings, redact_url
from wac.db.connect import connect_at_start, error_text
from wac.db.migrate import migrate
from wac.errors import ServiceUnavailable
from wac.result import CheckResult
from wac.runtime.kafka import connect_check, ensure_topic
from wac.runtime.stop import Stop
from wac.store.batcher import Batcher
from wac.store.consumer import ConsumerStage
from wac.store.offsets import OffsetBook, OffsetCommitter
from wac.store.partitions import Partitions
from wac.store.settings import StoreSettings
from wac.store.stats import StoreStats
from wac.store.target_status import TargetStatus
from wac.store.targets_mirror import TargetsMirror
from wac.store.writer import APPLICATION_NAME, BatchWriter
from wac.store.writer_thread import WriterThread
from wac.targets_topic import TargetsTopicSettings

log = logging.getLogger(__name__)

SWITCH_INTERVAL_S = 0.0005


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
        # The mirror of the targets topic: a thread and consumer of its own, off the
        # results' path (wac/store/targets_mirror.py); None: not mirrored.
        self.mirror = TargetsMirror(targets_topic, postgres_url) if targets_topic else None
        self.stats = StoreStats()
        self._stop = Stop(log, "finishing the batch being written", lambda: self.writer.wake())
        self.stopping = self._stop.event
        self.partitions = Partitions(self.settings.retention_days)
        self.targets = TargetStatus(self.settings.targets_refresh_s)
        self.offsets = OffsetBook()
        writer = BatchWriter(postgres_url, self.partitions, self.targets)
        self.writer = WriterThread(
            writer, self.settings, self.stats, self._stop, on_stored=on_stored
        )
        self.committer = OffsetCommitter(self.offsets, self.writer.done)
        self.consumer = ConsumerStage(
            kafka,
            Batcher(self.settings, self.partitions, self.targets, writer),
            self.writer,
            self.committer,
            self.stats,
            self._stop,
        )

    def stop(self) -> None:
        """Finish the batch being written, commit its offsets, stop (SIGTERM does this)."""
        self._stop()

    def run(self) -> None:
        self._start_database()
        connect_check(self.kafka)
        ensure_topic(self.kafka)
        consumer = self.consumer.open()
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
        self.writer.start()
        if self.mirror is not None:
            self.mirror.start()
        try:
            self.consumer.run(consumer)
        except Exception as exc:  # KafkaFatal, or a bug: stop cleanly, then raise it
            self._stop.fail(exc)
        finally:
            self._shutdown(consumer)
        self._stop.raise_failure()

    def _start_database(self) -> None:
        with connect_at_start(self.postgres_url, application_name=APPLICATION_NAME) as conn:
            migrate(conn)
        try:
            self.writer.maintain()
        except psycopg.OperationalError as exc:
            raise ServiceUnavailable(
                f"PostgreSQL at POSTGRES_ENDPOINT={redact_url(self.postgres_url)} went away "
                f"during start-up: {error_text(exc, self.postgres_url)}"
            ) from None

    def _shutdown(self, consumer: Consumer) -> None:
        self.stop()
        self.consumer.abandon()  # batches not started are dropped (replayed by the next store)
        self.writer.stop()
        failed = self._stop.failure is not None
        if not failed:  # a consumer that failed for good commits nothing more
            self.committer.settle(sync=True)
        if self.mirror is not None:
            self.mirror.stop()
        try:
            consumer.close()  # leaves the group (its revocation commits nothing new)
        except (KafkaException, RuntimeError) as exc:
            if not failed:
                log.warning("closing the Kafka consumer: %s", exc)
        s = self.stats
        log.info(
            "store stopped: %d consumed, %d stored, %d duplicates ignored, %d rejected, %d expired",
            s.consumed,
            s.inserted,
            s.replayed + s.duplicates,
            s.rejected,
            s.expired,
        )
