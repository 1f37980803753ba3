"""The store's offsets stage: which Kafka offsets may be committed, and committing them.

`OffsetBook` knows which offsets may be committed: those of batches already stored,
never less. A batch's offsets are `stored` once its database transaction has
committed; `to_commit` then yields, for the partitions this store still owns, the
offsets beyond what was last sent. A failed commit is re-sent with the next one. An
offset is never sent lower than one already sent for that partition, so a batch
finishing late (after a rebalance) cannot move the group backwards.

`OffsetCommitter` sends them. Both are used from the consumer thread only.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterable, Mapping

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

log = logging.getLogger(__name__)

PartitionKey = tuple[str, int]


class OffsetBook:
    def __init__(self) -> None:
        self.assigned: set[PartitionKey] = set()
        self._stored: dict[PartitionKey, int] = {}
        self._sent: dict[PartitionKey, int] = {}

    def assign(self, keys: Iterable[PartitionKey]) -> None:
        self.assigned |= set(keys)

    def revoke(self, keys: Iterable[PartitionKey]) -> None:
        for key in keys:
            self.assigned.discard(key)
            self._stored.pop(key, None)
            self._sent.pop(key, None)

    def stored(self, offsets: Mapping[PartitionKey, int]) -> None:
        for key, offset in offsets.items():
            if offset > self._stored.get(key, -1):
                self._stored[key] = offset

    def to_commit(self) -> dict[PartitionKey, int]:
        """Offsets to send now (and marked as sent)."""
        due = {
            key: offset
            for key, offset in self._stored.items()
            if key in self.assigned and offset > self._sent.get(key, -1)
        }
        self._sent.update(due)
        return due

    def failed(self, offsets: Mapping[PartitionKey, int]) -> None:
        """A commit of these offsets failed: send them again next time."""
        for key, offset in offsets.items():
            if self._sent.get(key) == offset:
                del self._sent[key]

    def pending(self) -> dict[PartitionKey, int]:
        """Stored but not (successfully) sent, for owned partitions."""
        return {
            key: offset
            for key, offset in self._stored.items()
            if key in self.assigned and offset > self._sent.get(key, -1)
        }


class OffsetCommitter:
    """Commits, from the consumer thread, the offsets of the batches the writer stored.

    `settle` takes the stored batches' offsets into the book and sends what is due:
    asynchronously while consuming (a failure comes back through `on_commit`, the
    librdkafka callback, and is sent again with the next commit), synchronously at a
    revocation and at the end, while the partitions are still this store's.
    """

    def __init__(
        self, book: OffsetBook, stored: queue.SimpleQueue[Mapping[PartitionKey, int]]
    ) -> None:
        self.book = book
        self.stored = stored  # each stored batch's offsets, from the writer thread
        self.consumer: Consumer | None = None

    def settle(self, *, sync: bool = False) -> None:
        while True:
            try:
                offsets = self.stored.get_nowait()
            except queue.Empty:
                break
            self.book.stored(offsets)
        consumer = self.consumer
        if consumer is None:
            return
        due = self.book.to_commit()
        if not due:
            return
        partitions = [TopicPartition(t, p, o) for (t, p), o in due.items()]
        try:
            if sync:
                consumer.commit(offsets=partitions, asynchronous=False)
            else:
                consumer.commit(offsets=partitions, asynchronous=True)
        except KafkaException as exc:
            self.book.failed(due)
            log.warning(
                "Kafka offset commit failed (%s); the stored results stay stored and the "
                "commit is retried (a restart would only replay them, adding no row)",
                exc.args[0].str() if exc.args else exc,
            )

    def on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        failed = {
            (tp.topic, tp.partition): tp.offset
            for tp in partitions
            if error is not None or tp.error is not None
        }
        if failed:
            self.book.failed(failed)
            log.debug("offset commit failed (%s): will retry", error)
