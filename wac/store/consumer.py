"""The store's consumer stage: the loop of the consumer thread, and its rebalances.

Each turn it commits what the writer stored (`OffsetCommitter`), closes a batch when
it is due (`Batcher`), hands it to the writer thread (`WriterThread`) and fetches
more. When the writer is a batch behind and stalls (PostgreSQL away) the partitions
are paused, so the group is still served and nothing piles up in memory.

Rebalances (eager protocol, "range": every partition is revoked): on revocation the
batches not yet started are dropped (their messages were never committed: the next
owner reads them again), the batch being written gets a bounded time to finish, and
the stored offsets are committed synchronously while the partitions are still ours.
A lost assignment (the session expired) commits nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from wac.config import KafkaSettings
from wac.runtime.kafka_clients import consumer_config
from wac.runtime.kafka_fatal import consumer_failed
from wac.runtime.kafka_watch import CONSUMER_STUCK, KafkaWatch, consumer_waiting
from wac.runtime.rebalance import guarded
from wac.runtime.stop import Stop
from wac.store.batcher import Batcher
from wac.store.decode import Batch
from wac.store.offsets import OffsetCommitter
from wac.store.stats import StoreStats
from wac.store.writer_thread import WriterThread

log = logging.getLogger(__name__)

REVOKE_WAIT_S = 30.0
STALL_BEFORE_PAUSE_S = 1.0
HAND_OVER_WAIT_S = 0.2


class ConsumerStage:
    def __init__(
        self,
        kafka: KafkaSettings,
        batcher: Batcher,
        writer: WriterThread,
        committer: OffsetCommitter,
        stats: StoreStats,
        stop: Stop,
    ) -> None:
        self.kafka = kafka
        self.settings = batcher.settings
        self.batcher = batcher
        self.targets = batcher.targets
        self.writer = writer
        self.committer = committer
        self.stats = stats
        self.stop_event = stop.event
        self.on_failure = stop.fail  # a rebalance callback failed: the service stops
        self.watch = KafkaWatch(
            log,
            meanwhile="waiting for it; stored results stay stored, their offsets are "
            "committed when it is back",
            stuck=CONSUMER_STUCK,
            # Paused partitions are the writer's doing (PostgreSQL away), not Kafka's.
            waiting=lambda view: not self._paused and consumer_waiting(view),
            on_view=lambda view: stats.set_lag(view.lag),
            on_outage=lambda: stats.outage("kafka"),
        )
        self._ready: Batch | None = None  # closed, waiting for the writer to take it
        self._paused = False

    def open(self) -> Consumer:
        extra: dict[str, Any] = {
            # Eager rebalancing: a revocation takes every partition.
            "partition.assignment.strategy": "range",
            "on_commit": self.committer.on_commit,
        }
        consumer = Consumer(
            consumer_config(self.kafka, group_id=self.kafka.group_id, watch=self.watch, **extra)
        )
        fail = self.on_failure
        consumer.subscribe(
            [self.kafka.topic],
            on_assign=guarded(self._on_assign, what="assigning partitions", on_failure=fail),
            on_revoke=guarded(self._on_revoke, what="revoking partitions", on_failure=fail),
            on_lost=guarded(self._on_lost, what="losing partitions", on_failure=fail),
        )
        self.committer.consumer = consumer
        return consumer

    # ------------------------------------------------------------------ the loop
    def run(self, consumer: Consumer) -> None:
        """Consume until stopped; raises KafkaFatal when the consumer failed for good."""
        batcher = self.batcher
        next_summary = time.monotonic() + self.settings.stats_interval_s
        stalled_since: float | None = None
        while not self.stop_event.is_set():
            self.committer.settle()
            if batcher.fatal is not None:
                raise consumer_failed(batcher.fatal, "the store")
            now = time.monotonic()
            if self.settings.stats_interval_s > 0 and now >= next_summary:
                log.info("%s", self.stats.summary())
                next_summary = now + self.settings.stats_interval_s
            if self._ready is not None and self._hand_over(0):
                stalled_since = None
            if self._ready is None and batcher.due(now):
                self._ready = batcher.close()
                self._hand_over(0)
            if self._ready is not None and batcher.full:
                # The writer is a batch behind: wait for it, pausing the partitions if
                # it stalls (PostgreSQL away) while still serving the group.
                if self._hand_over(HAND_OVER_WAIT_S):
                    stalled_since = None
                    continue
                stalled_since = stalled_since or now
                if not self._paused and now - stalled_since >= STALL_BEFORE_PAUSE_S:
                    self._pause(consumer, True)
                if self._paused:
                    self._take(consumer.consume(self.settings.batch_size, 0))
                continue
            if self._paused:
                self._pause(consumer, False)
            timeout = batcher.wait(now)
            if self._ready is not None:
                timeout = min(timeout, 0.05)
            self._take(consumer.consume(batcher.room(), timeout))

    def _take(self, messages: list[Message]) -> None:
        if self.batcher.add(messages):
            self.watch.progress()

    def _hand_over(self, timeout: float) -> bool:
        assert self._ready is not None
        if not self.writer.offer(self._ready, timeout):
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

    def abandon(self) -> None:
        """Drop the batches not started yet (their offsets were never committed)."""
        self.writer.abandon()
        self._ready = None
        self.batcher.drop()

    # ------------------------------------------------------------------ rebalances
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.committer.book.assign((tp.topic, tp.partition) for tp in partitions)
        self.targets.reset()
        self._paused = False
        log.info(
            "assigned partitions %s of %s",
            ",".join(str(tp.partition) for tp in partitions) or "(none)",
            self.kafka.topic,
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.abandon()
        self.writer.wait_written(REVOKE_WAIT_S)
        self.committer.settle(sync=True)
        self._release(partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning(
            "Kafka partitions lost (the group session expired): results not committed yet "
            "will be read again, by this store or another"
        )
        self.abandon()
        self._release(partitions)

    def _release(self, partitions: list[TopicPartition]) -> None:
        self.committer.book.revoke((tp.topic, tp.partition) for tp in partitions)
        self.targets.reset()
        self._paused = False
        if partitions:
            log.info(
                "revoked partitions %s of %s",
                ",".join(str(tp.partition) for tp in partitions),
                self.kafka.topic,
            )
