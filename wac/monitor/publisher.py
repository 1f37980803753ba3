"""Publishes check results to Kafka without ever blocking the caller.

The producer is idempotent (acks=all) and holds results while the broker is away,
up to `buffer_limit` of them; beyond that new results are dropped and counted.
An outage (results waiting and none acknowledged: see `wac.runtime.kafka_health`) is logged
once when it starts and once when it ends, with its duration; a broker that fails
while the others serve is a note about that broker. A fatal producer error is one line
and a new producer (`wac.runtime.producer`); should that fail too, `failed` is set and
the monitor stops with exit code 2.

`publish` is called from one thread (the check loop) and only queues the message in
librdkafka; a background thread serves librdkafka's callbacks. Only failed
deliveries are reported back (`delivery.report.only.error`): at thousands of results
per second a Python callback per delivered message would cost more than producing it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message

from wac.config import KafkaSettings
from wac.result import CheckResult, encode
from wac.runtime.kafka_clients import producer_config
from wac.runtime.kafka_fatal import KafkaFatal
from wac.runtime.kafka_watch import PRODUCER_STUCK, KafkaWatch
from wac.runtime.producer import Producer

log = logging.getLogger(__name__)

DEFAULT_BUFFER_LIMIT = 100_000


@dataclass
class PublisherStats:
    produced: int = 0
    delivered: int = 0
    failed: int = 0
    dropped: int = 0


class ResultPublisher:
    def __init__(self, kafka: KafkaSettings, *, buffer_limit: int = DEFAULT_BUFFER_LIMIT) -> None:
        self.topic = kafka.topic
        self.stats = PublisherStats()
        self._lock = threading.Lock()
        # Served by the callback thread only.
        self.watch = KafkaWatch(
            log,
            meanwhile="buffering results (up to the WAC_MONITOR_BUFFER bound) and retrying",
            stuck=PRODUCER_STUCK,
        )
        self._failing = False  # a failed delivery is logged once until one succeeds
        self._dropping = False  # the buffer-full error is logged once per episode
        self._buffer_limit = buffer_limit
        self._producer = Producer(
            producer_config(
                kafka,
                # Batches of up to 100 ms: librdkafka's threads cost 3-4 µs per result
                # against 6-7 at 20 ms (fewer, larger requests over SSL), and a result
                # reaches Kafka at most 0.1 s later (docs/performance-monitor.md).
                linger_ms=100,
                # Keep retrying while the broker is away: the buffer bound, not a
                # timer, decides what is given up.
                message_timeout_ms=0,
                watch=self.watch,
                **{
                    "compression.type": "lz4",
                    "queue.buffering.max.messages": buffer_limit,
                    "delivery.report.only.error": True,
                },
            ),
            what="results",
            on_delivery=self._on_delivery,
        )
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-poll", daemon=True)
        self._poller.start()

    @property
    def failed(self) -> KafkaFatal | None:
        """Set when the producer failed for good: the monitor stops (exit code 2)."""
        return self._producer.failed

    def publish(self, result: CheckResult) -> bool:
        """Queue one result; False when the buffer is full and it had to be dropped."""
        try:
            self._producer.produce(self.topic, encode(result), result.target.encode())
            self.stats.produced += 1  # only the publishing thread writes it
        except KafkaFatal:
            with self._lock:
                self.stats.dropped += 1  # given up: the monitor is stopping (logged once)
            return False
        except BufferError:
            with self._lock:
                self.stats.dropped += 1
                first = not self._dropping
                self._dropping = True
            if first:
                log.error(
                    "Kafka buffer full (%d results waiting): dropping new results until the "
                    "broker takes them; raise WAC_MONITOR_BUFFER to hold more",
                    len(self._producer),
                )
            return False
        return True

    @property
    def waiting(self) -> int:
        """Results produced but not yet acknowledged by the broker.

        librdkafka's queue length: it also counts the few events (errors, delivery
        reports) that the callback thread has not served yet.
        """
        return len(self._producer)

    def _update_delivered(self) -> int:
        """Results waiting in the queue; counts the others as delivered unless they failed."""
        produced = self.stats.produced  # read before the queue length: never overcounts
        waiting = len(self._producer)
        with self._lock:
            self.stats.delivered = max(self.stats.delivered, produced - self.stats.failed - waiting)
        return waiting

    def close(self, timeout: float = 30.0) -> int:
        """Flush what is buffered; returns how many results could not be delivered."""
        self._stop.set()
        self._poller.join()
        remaining = int(self._producer.flush(timeout))
        self._update_delivered()
        if remaining:
            log.error("%d results were not delivered to Kafka before shutdown", remaining)
        return remaining

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)
            delivered = self.stats.delivered
            waiting = self._update_delivered()
            if self.stats.delivered > delivered:
                self._failing = False
                self.watch.progress()
            self.watch.observe(waiting=waiting > 0)
            with self._lock:
                recovered = self._dropping and waiting < self._buffer_limit // 2
                if recovered:
                    self._dropping = False
            if recovered:
                log.warning(
                    "Kafka buffer has room again; %d results were dropped so far",
                    self.stats.dropped,
                )

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            return
        with self._lock:
            self.stats.failed += 1
        if not self._failing:
            self._failing = True
            log.error("a result could not be delivered to Kafka: %s", error.str())
