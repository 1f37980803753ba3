"""An idempotent Kafka producer that outlives a fatal error, by being replaced.

A fatal error leaves a librdkafka producer unusable: its queue is purged (each message
reported with a purge error) and every later call fails. `Producer` logs one line,
makes a new producer from the same configuration and produces the purged messages
again on it, so nothing accepted is lost. A message the broker had written just before
the error may then be written twice: the results and events wac produces carry an id
their consumers store once.

A second fatal error less than `GIVE_UP_WITHIN_S` after a replacement is not retried:
it is the configuration (a missing ACL, say), not bad luck. `failed` then holds the
`KafkaFatal` the service stops with (exit code 2), and `produce` refuses.

`produce` may be called from one thread while another serves `poll`; whichever of them
meets the fatal error first replaces the producer.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import confluent_kafka
from confluent_kafka import KafkaError, KafkaException, Message

from wac.runtime.kafka_fatal import KafkaFatal, fatal_in, is_fatal

log = logging.getLogger(__name__)

GIVE_UP_WITHIN_S = 60.0
DRAIN_OLD_S = 5.0  # at most this long to collect the purged messages of a failed producer

DeliveryCallback = Callable[[KafkaError | None, Message], None]

_PURGED = frozenset({KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT, KafkaError._FATAL})


class Producer:
    """`confluent_kafka.Producer`'s produce, poll, flush and len, renewed on a fatal error.

    `config` must not hold `on_delivery`: failed deliveries (other than those produced
    again on the new producer) go to `on_delivery`.
    """

    def __init__(
        self,
        config: dict[str, Any],
        *,
        what: str,
        on_delivery: DeliveryCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what  # "results", "events": named in the log line
        self.renewals = 0
        self.failed: KafkaFatal | None = None
        self._config = {**config, "on_delivery": self._delivered}
        self._on_delivery = on_delivery
        self._clock = clock
        self._lock = threading.Lock()
        self._renewed_at: float | None = None
        self._retired: confluent_kafka.Producer | None = None  # the failed one, draining
        self._requeued = 0
        self._producer = confluent_kafka.Producer(self._config)

    # ------------------------------------------------------------------ calls
    def produce(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        """Queue one message; BufferError when the queue is full, KafkaFatal after giving up."""
        producer = self._producer
        try:
            producer.produce(topic, value=value, key=key)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not (isinstance(error, KafkaError) and is_fatal(error)):
                raise
            self._renew(producer, error)
            if self.failed is not None:
                raise self.failed from None
            self._producer.produce(topic, value=value, key=key)

    def poll(self, timeout: float) -> int:
        producer = self._producer
        try:
            return int(producer.poll(timeout))
        except KafkaException as exc:
            error = fatal_in(exc)
            if error is None:
                raise
            self._renew(producer, error)
            return 0

    def flush(self, timeout: float) -> int:
        """Deliver what is queued; returns how many messages are still queued."""
        deadline = self._clock() + timeout
        while True:
            producer = self._producer
            try:
                return int(producer.flush(max(0.0, deadline - self._clock())))
            except KafkaException as exc:
                error = fatal_in(exc)
                if error is None:
                    raise
                self._renew(producer, error)
                if self.failed is not None:
                    return len(self._producer)

    def __len__(self) -> int:
        return len(self._producer)

    # ------------------------------------------------------------------ renewal
    def _renew(self, failed: confluent_kafka.Producer, error: KafkaError) -> None:
        with self._lock:
            if failed is not self._producer or self.failed is not None:
                return  # replaced already (by the other thread), or given up
            now = self._clock()
            if self._renewed_at is not None and now - self._renewed_at < GIVE_UP_WITHIN_S:
                self.failed = KafkaFatal(
                    f"the Kafka producer of {self.what} failed for good again "
                    f"{now - self._renewed_at:.0f} s after it was replaced "
                    f"({error.name()}: {error.str()}). "
                    "Check that this client may write to the topic with an idempotent "
                    "producer (ACLs: IdempotentWrite), and the broker's log"
                )
                log.error("%s", self.failed)
                return
            self._renewed_at = now
            self.renewals += 1
            self._producer = confluent_kafka.Producer(self._config)
            # The failed producer reports its purged messages; produce them again on the
            # new one (in `_delivered`).
            self._retired = failed
            self._requeued = 0
            drain_until = now + DRAIN_OLD_S
            while len(failed) > 0 and self._clock() < drain_until:
                with contextlib.suppress(KafkaException):  # the fatal error again
                    failed.poll(0.1)
            lost = len(failed)
            self._retired = None
            log.error(
                "Kafka producer of %s failed for good (%s); replaced by a new producer, "
                "%d queued message(s) produced again on it%s",
                self.what,
                f"{error.name()}: {error.str()}",
                self._requeued,
                f", {lost} not recovered" if lost else "",
            )

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            return
        retired = self._retired
        if retired is not None and error.code() in _PURGED:
            topic = message.topic()
            value = message.value()
            if topic is not None and value is not None:
                try:
                    self._producer.produce(topic, value=value, key=message.key())
                    self._requeued += 1
                    return
                except (BufferError, KafkaException):
                    pass  # reported as failed below
        if self._on_delivery is not None:
            self._on_delivery(error, message)
