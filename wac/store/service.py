"""The store service: consume results in batches, write each batch, then commit offsets.

Order per batch: decode and validate → one database transaction (checks and dead
letters) → commit the Kafka offsets after the last message of the batch. A crash
anywhere before the offset commit replays the batch, and the idempotent insert
turns the replay into nothing new.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

import msgspec
import psycopg
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from wac.config import KafkaSettings, redact_url
from wac.errors import ServiceUnavailable
from wac.kafka import _quiet_logger, client_config, connect_check, ensure_topic
from wac.result import CheckResult, decode
from wac.store.migrate import migrate
from wac.store.writer import BatchWriter, Rejected

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 5000
DEFAULT_BATCH_WAIT_S = 0.2
MAX_BACKOFF_S = 30.0


@dataclass
class StoreStats:
    batches: int = 0
    consumed: int = 0
    inserted: int = 0
    rejected: int = 0


def connect_database(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, connect_timeout=10, application_name="wac-store")
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable(
            f"cannot connect to PostgreSQL at POSTGRES_ENDPOINT={redact_url(url)}: "
            f"{_first_line(exc)}. Check that the server runs and the URL, user and password "
            "are right"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def decode_batch(messages: Sequence[Message]) -> tuple[list[CheckResult], list[Rejected]]:
    results: list[CheckResult] = []
    rejected: list[Rejected] = []
    for message in messages:
        value = message.value()
        try:
            if value is None:
                raise msgspec.ValidationError("empty message (no value)")
            results.append(decode(value))
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            rejected.append(
                Rejected(
                    topic=message.topic() or "",
                    partition=_int(message.partition()),
                    offset=_int(message.offset()),
                    key=message.key(),
                    value=value,
                    reason=str(exc),
                )
            )
    return results, rejected


def _int(value: int | None) -> int:
    """Partition and offset are never None on a consumed message; typed so for mypy."""
    assert value is not None
    return value


def next_offsets(messages: Sequence[Message]) -> list[TopicPartition]:
    """The offsets to commit: one past the last message of each partition."""
    last: dict[tuple[str, int], int] = {}
    for message in messages:
        key = (message.topic() or "", _int(message.partition()))
        last[key] = max(last.get(key, -1), _int(message.offset()))
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]


class StoreService:
    def __init__(
        self,
        kafka: KafkaSettings,
        postgres_url: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_wait_s: float = DEFAULT_BATCH_WAIT_S,
        on_stored: Callable[[list[CheckResult]], None] | None = None,
    ) -> None:
        self.kafka = kafka
        self.postgres_url = postgres_url
        self.batch_size = batch_size
        self.batch_wait_s = batch_wait_s
        self.on_stored = on_stored
        self.stats = StoreStats()
        self.stopping = threading.Event()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d: finishing the current batch, then stopping", signum)
            self.stopping.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self) -> None:
        conn = connect_database(self.postgres_url)
        migrate(conn)
        writer = BatchWriter(conn)
        connect_check(self.kafka)
        ensure_topic(self.kafka)
        consumer = Consumer(
            client_config(
                self.kafka,
                **{
                    "group.id": self.kafka.group_id,
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "auto.offset.reset": "earliest",
                    "isolation.level": "read_committed",
                    "logger": _quiet_logger(),
                },
            )
        )
        consumer.subscribe([self.kafka.topic])
        log.info(
            "store consuming %s on %s into %s",
            self.kafka.topic,
            self.kafka.endpoint,
            redact_url(self.postgres_url),
        )
        try:
            while not self.stopping.is_set():
                messages = consumer.consume(self.batch_size, self.batch_wait_s)
                batch = [m for m in messages if not self._is_error(m)]
                if batch:
                    writer = self._write_until_done(writer, batch)
                    consumer.commit(offsets=next_offsets(batch), asynchronous=False)
        finally:
            consumer.close()
            writer.conn.close()
            log.info(
                "store stopped: %d consumed, %d inserted, %d rejected",
                self.stats.consumed,
                self.stats.inserted,
                self.stats.rejected,
            )

    def _is_error(self, message: Message) -> bool:
        error = message.error()
        if error is None:
            return False
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("Kafka: %s", error.str())
        return True

    def _write_until_done(self, writer: BatchWriter, batch: list[Message]) -> BatchWriter:
        """Write the batch, retrying with backoff while the database is away."""
        results, rejected = decode_batch(batch)
        backoff = 0.5
        outage = False
        while True:
            try:
                inserted = writer.write(results, rejected)
                break
            except psycopg.OperationalError as exc:
                if not outage:
                    log.error(
                        "PostgreSQL unavailable (%s); retrying this batch of %d with backoff, "
                        "no offsets committed",
                        _first_line(exc),
                        len(batch),
                    )
                    outage = True
                time.sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)
                writer = self._reconnect(writer)
        if outage:
            log.warning("PostgreSQL is back; batch stored")
        self.stats.batches += 1
        self.stats.consumed += len(batch)
        self.stats.inserted += inserted
        self.stats.rejected += len(rejected)
        if rejected:
            log.warning("%d message(s) rejected to rejected_messages", len(rejected))
        if self.on_stored is not None and results:
            self.on_stored(results)
        return writer

    def _reconnect(self, writer: BatchWriter) -> BatchWriter:
        with contextlib.suppress(psycopg.Error):
            writer.conn.close()
        try:
            return BatchWriter(psycopg.connect(self.postgres_url, connect_timeout=5))
        except psycopg.OperationalError:
            return writer
