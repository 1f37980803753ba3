"""The store's mirror of the targets topic in PostgreSQL (`managed_targets`), for queries.

A thread of its own in `wac store`, away from the results' hot path: its own consumer,
assigned every partition of the targets topic (no consumer group: each store may mirror
the whole topic), starting at the offsets `managed_targets_offsets` holds. Each batch is
written in one transaction that locks its partitions' offset rows, skips the records
below them (another store wrote them), applies the rest in log order (a definition
upserts its row, a tombstone deletes it, a record that is not a valid definition deletes
the row too and becomes a dead letter, as `wac.targets_topic.read` counts it) and moves
the offsets: the table is always what the log said up to those offsets.

A topic that was recreated (its end before the offsets held) is mirrored again from its
beginning; so is a different topic (KAFKA_TARGETS_TOPIC changed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from psycopg.types.json import Jsonb

from wac.db.connect import connect, error_text
from wac.runtime.backoff import Backoff
from wac.runtime.dead_letters import Rejected, insert_rejected
from wac.runtime.kafka import client_config, librdkafka_logger
from wac.targets.definition import BadDefinition, decode_definition, definition_to_json
from wac.targets_topic import TargetsTopicSettings

log = logging.getLogger(__name__)

APPLICATION_NAME = "wac-store-targets-mirror"
BATCH = 5000
POLL_S = 0.5
TOPIC_WAIT_S = 1.0  # how often a missing targets topic is looked for

UPSERT = """
INSERT INTO managed_targets
    (target, definition, url, interval_s, paused, topic_partition, topic_offset, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (target) DO UPDATE SET
    definition = EXCLUDED.definition, url = EXCLUDED.url, interval_s = EXCLUDED.interval_s,
    paused = EXCLUDED.paused, topic_partition = EXCLUDED.topic_partition,
    topic_offset = EXCLUDED.topic_offset, updated_at = now()
"""


class TargetsMirror:
    """Keeps `managed_targets` equal to the targets topic; `start()` runs it in a thread."""

    def __init__(self, settings: TargetsTopicSettings, postgres_url: str) -> None:
        self.settings = settings
        self.postgres_url = postgres_url
        self.stopping = threading.Event()
        self.applied = 0  # records written (for tests and the log)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="targets-mirror", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = Backoff(first=1.0, cap=30.0)
        while not self.stopping.is_set():
            try:
                self._mirror()
            except (psycopg.Error, KafkaException) as exc:
                wait = backoff.next_delay()
                log.warning(
                    "targets mirror: %s; retrying in %.1f s",
                    error_text(exc, self.postgres_url),
                    wait,
                )
                self.stopping.wait(wait)

    def _mirror(self) -> None:
        topic = self.settings.topic
        consumer = Consumer(
            client_config(
                self.settings.kafka,
                logger=librdkafka_logger(),
                **{
                    "group.id": f"{self.settings.kafka.group_id}-targets-mirror",
                    "enable.auto.commit": False,
                    "allow.auto.create.topics": False,
                },
            )
        )
        try:
            with connect(self.postgres_url, application_name=APPLICATION_NAME) as conn:
                starts = self._wait_for_topic(conn, consumer)
                if starts is None:
                    return
                consumer.assign([TopicPartition(topic, p, o) for p, o in starts.items()])
                log.info(
                    "targets mirror: %s (%d partitions) into managed_targets", topic, len(starts)
                )
                while not self.stopping.is_set():
                    messages = consumer.consume(BATCH, timeout=POLL_S)
                    records = [m for m in messages if m.error() is None]
                    for m in messages:
                        error = m.error()
                        if error is not None and error.fatal():
                            raise KafkaException(error)
                    if records:
                        self._write(conn, records)
        finally:
            consumer.close()

    def _wait_for_topic(
        self, conn: psycopg.Connection, consumer: Consumer
    ) -> dict[int, int] | None:
        """The starting offsets once the topic exists (`wac targets apply` or the API
        creates it; the store does not); None when stopped meanwhile."""
        told = False
        while not self.stopping.is_set():
            found = consumer.list_topics(timeout=10).topics.get(self.settings.topic)
            if found is not None and found.error is None:
                return self._starting_offsets(conn, consumer)
            if not told:
                log.info(
                    "targets mirror: waiting for the targets topic %s (created by the first "
                    "`wac targets apply` or API write)",
                    self.settings.topic,
                )
                told = True
            self.stopping.wait(TOPIC_WAIT_S)
        return None

    def _starting_offsets(self, conn: psycopg.Connection, consumer: Consumer) -> dict[int, int]:
        """Each partition's next offset to mirror; the mirror is reset when its offsets are
        of another topic, or beyond the topic's end (the topic was recreated)."""
        topic = self.settings.topic
        metadata = consumer.list_topics(timeout=10)
        partitions = sorted(metadata.topics[topic].partitions)
        with conn.transaction():
            rows = conn.execute(
                'SELECT topic, "partition", next_offset FROM managed_targets_offsets'
            ).fetchall()
            held = {p: o for t, p, o in rows if t == topic}
            stale = any(t != topic for t, _, _ in rows)
            for partition, offset in held.items():
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )
                stale = stale or offset > high
            if stale:
                log.warning(
                    "targets mirror: managed_targets was of another topic or of a topic since "
                    "recreated; mirroring %s again from its beginning",
                    topic,
                )
                conn.execute("DELETE FROM managed_targets")
                conn.execute("DELETE FROM managed_targets_offsets")
                held = {}
            for partition in partitions:
                conn.execute(
                    'INSERT INTO managed_targets_offsets (topic, "partition", next_offset) '
                    "VALUES (%s, %s, 0) ON CONFLICT DO NOTHING",
                    (topic, partition),
                )
        return {p: held.get(p, 0) for p in partitions}

    def _write(self, conn: psycopg.Connection, records: Sequence[Message]) -> None:
        topic = self.settings.topic
        with conn.transaction(), conn.cursor() as cur:
            parts = sorted({_int(m.partition()) for m in records})
            cur.execute(
                'SELECT "partition", next_offset FROM managed_targets_offsets '
                'WHERE topic = %s AND "partition" = ANY(%s) ORDER BY "partition" FOR UPDATE',
                (topic, parts),
            )
            next_offsets: dict[int, int] = dict(cur.fetchall())
            rejected: list[Rejected] = []
            applied = 0
            for message in records:
                partition, offset = _int(message.partition()), _int(message.offset())
                if offset < next_offsets.get(partition, 0):
                    continue  # written already (by another store, or before a retry)
                next_offsets[partition] = offset + 1
                applied += 1
                self._apply(cur, message, partition, offset, rejected)
            if rejected:
                insert_rejected(cur, rejected)
            cur.executemany(
                "UPDATE managed_targets_offsets SET next_offset = %s "
                'WHERE topic = %s AND "partition" = %s',
                [(o, topic, p) for p, o in next_offsets.items()],
            )
        self.applied += applied

    def _apply(
        self,
        cur: psycopg.Cursor[Any],
        message: Message,
        partition: int,
        offset: int,
        rejected: list[Rejected],
    ) -> None:
        key = message.key()
        try:
            definition = decode_definition(
                key, message.value(), default_timeout=self.settings.check_timeout
            )
        except BadDefinition as exc:
            log.warning(
                "targets mirror: %s partition %d offset %d skipped: %s",
                self.settings.topic,
                partition,
                offset,
                exc,
            )
            rejected.append(Rejected.of(message, f"not a target definition: {exc}"))
            if key is not None:
                cur.execute(
                    "DELETE FROM managed_targets WHERE target = %s",
                    (key.decode("utf-8", "replace").replace("\x00", ""),),
                )
            return
        assert key is not None  # decode_definition refuses a record without one
        value = message.value()
        if definition is not None and value is not None and b"\\u0000" in value:
            definition = None  # jsonb cannot hold a NUL: a dead letter, the row removed
            rejected.append(
                Rejected.of(message, "a definition holding \\u0000, which PostgreSQL cannot store")
            )
        if definition is None:
            cur.execute("DELETE FROM managed_targets WHERE target = %s", (key.decode(),))
            return
        target = definition.target
        cur.execute(
            UPSERT,
            (
                target.id,
                Jsonb(definition_to_json(definition)),
                target.public_url,
                target.interval,
                definition.paused,
                partition,
                offset,
            ),
        )


def _int(value: int | None) -> int:
    assert value is not None  # a consumed record always has its partition and offset
    return value
