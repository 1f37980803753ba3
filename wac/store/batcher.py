"""The store's batcher: fetched messages → batches, decoded and encoded for the writer.

Used by the consumer thread only. A batch closes when it holds `batch_size` messages
or its first message has waited `batch_wait_s`. `prepare` then does everything the
writer needs that is not a database round trip (decoding and checking each message,
the days and late minutes of its rows, the writes to `targets`, the binary COPY
streams), while the writer thread stores the previous batch: Python's work and the
database's overlap.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import psycopg
from confluent_kafka import KafkaError, Message

from wac.runtime.kafka_fatal import is_fatal
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
from wac.store.partitions import Partitions
from wac.store.settings import StoreSettings
from wac.store.target_status import TargetStatus, summarize
from wac.store.target_status import encode as encode_targets
from wac.store.writer import BatchWriter, days_of

log = logging.getLogger(__name__)


class Batcher:
    def __init__(
        self,
        settings: StoreSettings,
        partitions: Partitions,
        targets: TargetStatus,
        writer: BatchWriter,
    ) -> None:
        self.settings = settings
        self.partitions = partitions
        self.targets = targets
        self.writer = writer  # lends its open connection's types to the encoders
        self.pending: list[Message] = []
        self.pending_since = 0.0
        self.fatal: KafkaError | None = None  # the consumer failed for good

    def add(self, messages: list[Message]) -> bool:
        """Keep the results among fetched messages; True when there was one."""
        fetched = False
        for message in messages:
            error = message.error()
            if error is not None:
                if is_fatal(error):
                    self.fatal = error
                elif error.code() != KafkaError._PARTITION_EOF:
                    log.warning("Kafka: %s", error.str())
                continue
            if not self.pending:
                self.pending_since = time.monotonic()
            self.pending.append(message)
            fetched = True
        return fetched

    @property
    def full(self) -> bool:
        return len(self.pending) >= self.settings.batch_size

    def due(self, now: float) -> bool:
        """A batch is ready to close: full, or its first message waited long enough."""
        return bool(self.pending) and (
            self.full or now - self.pending_since >= self.settings.batch_wait_s
        )

    def room(self) -> int:
        """How many messages to ask Kafka for (at least one)."""
        return max(1, self.settings.batch_size - len(self.pending))

    def wait(self, now: float) -> float:
        """How long a fetch may wait before the open batch is due."""
        if not self.pending:
            return self.settings.batch_wait_s
        return max(0.0, self.settings.batch_wait_s - (now - self.pending_since))

    def close(self) -> Batch:
        """The open batch, prepared; a new one opens."""
        messages, self.pending = self.pending, []
        return self.prepare(messages)

    def drop(self) -> None:
        """Forget the open batch (its offsets were never committed: it is read again)."""
        self.pending = []

    def prepare(self, messages: list[Message]) -> Batch:
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
