"""Which Kafka offsets may be committed: those of batches already stored, never less.

Used from the consumer thread only. A batch's offsets are `stored` once its database
transaction has committed; `to_commit` then yields, for the partitions this store
still owns, the offsets beyond what was last sent. A failed commit is re-sent with the
next one. An offset is never sent lower than one already sent for that partition, so a
batch finishing late (after a rebalance) cannot move the group backwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
