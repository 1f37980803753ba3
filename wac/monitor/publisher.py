"""Publishes check results to Kafka without ever blocking the caller.

The producer is idempotent (acks=all) and holds results while the broker is away,
up to `buffer_limit` of them; beyond that new results are dropped and counted.
An outage (results waiting and none acknowledged: see `wac.runtime.kafka_health`) is logged
once when it starts and once when it ends, with its duration; a broker that fails
while the others serve is a note about that broker.

`publish` is called from one thread (the check loop) and only queues the message in
librdkafka; a background thread serves librdkafka's callbacks. Only failed
deliveries are reported back (`delivery.report.only.error`): at thousands of results
per second a Python callback per delivered message would cost more than producing it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message, Producer

from wac.config import KafkaSettings
from wac.result import CheckResult, encode
from wac.runtime.kafka import client_config, librdkafka_logger
from wac.runtime.kafka_health import STATS_INTERVAL_MS, BrokerNotes, StallWatch, read_stats
from wac.runtime.outage import OutageTracker, emit

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
        self.outage = OutageTracker(
            "Kafka",
            meanwhile="buffering results (up to the WAC_MONITOR_BUFFER bound) and retrying",
        )
        # Served by the callback thread only.
        self._watch = StallWatch(self.outage, stuck="results waiting and none acknowledged")
        self._notes = BrokerNotes()
        self._broken = False  # a fatal error: this producer delivers nothing more
        self._failing = False  # a failed delivery is logged once until one succeeds
        self._dropping = False  # the buffer-full error is logged once per episode
        self._buffer_limit = buffer_limit
        self._producer = Producer(
            client_config(
                kafka,
                **{
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 20,
                    "compression.type": "lz4",
                    "queue.buffering.max.messages": buffer_limit,
                    "delivery.report.only.error": True,
                    # Keep retrying while the broker is away: the buffer bound, not a
                    # timer, decides what is given up.
                    "message.timeout.ms": 0,
                    "error_cb": self._on_error,
                    "statistics.interval.ms": STATS_INTERVAL_MS,
                    "stats_cb": self._on_stats,
                    "logger": librdkafka_logger(),
                },
            )
        )
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-poll", daemon=True)
        self._poller.start()

    def publish(self, result: CheckResult) -> bool:
        """Queue one result; False when the buffer is full and it had to be dropped."""
        try:
            self._producer.produce(
                self.topic,
                value=encode(result),
                key=result.target.encode(),
                on_delivery=self._on_delivery,
            )
            self.stats.produced += 1  # only the publishing thread writes it
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
            now = time.monotonic()
            if self.stats.delivered > delivered:
                self._failing = False
                emit(log, self._watch.progress(now))
            if not self._broken:
                emit(log, self._watch.observe(now, waiting=waiting > 0))
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

    def _on_error(self, error: KafkaError) -> None:
        now = time.monotonic()
        if error.fatal():
            self._broken = True
            emit(log, self._watch.fatal(f"fatal error: {error.str()}", now))
        elif error.code() == KafkaError._ALL_BROKERS_DOWN:
            emit(log, self._watch.observe(now, reachable=False))
        else:
            self._watch.last_error = error.str()

    def _on_stats(self, raw: str) -> None:
        view = read_stats(raw)
        if view is None:
            return
        for line in self._notes.update(view):
            emit(log, line)
        if not self._broken:
            emit(log, self._watch.observe(time.monotonic(), reachable=view.reachable))
