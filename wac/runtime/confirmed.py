"""Produce a few messages and wait until the broker acknowledged every one.

For the producers whose caller must know, before it goes on, that Kafka has what it
sent: the alerts' events (the outbox row is marked sent only then), a heartbeat's down
results (the watcher notes its progress only then) and a ping's up result (the ping is
answered only then). The producer underneath is the kit's idempotent `Producer`, renewed
on a fatal error.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message

from wac.runtime.kafka_fatal import KafkaFatal
from wac.runtime.producer import Producer


@dataclass(frozen=True)
class Unconfirmed:
    """A send the broker did not confirm: how many messages were still waiting for an
    acknowledgement when the time ran out, and the first refusal's reason ("": none)."""

    left: int
    refused: str

    def reason(self) -> str:
        return self.refused or f"{self.left} not acknowledged in time"


class ConfirmingProducer:
    """`send` queues messages and flushes; sends are serialised, so what the broker
    refused during one is that send's."""

    def __init__(self, config: dict[str, Any], *, what: str) -> None:
        self._lock = threading.Lock()
        self._refusals: list[str] = []
        self._producer = Producer(config, what=what, on_delivery=self._refused)

    @property
    def failed(self) -> KafkaFatal | None:
        """Set when the producer failed for good (see wac.runtime.producer)."""
        return self._producer.failed

    def send(
        self, topic: str, messages: Iterable[tuple[bytes | None, bytes]], timeout: float
    ) -> Unconfirmed | None:
        """Produce each (key, value) and wait up to `timeout` seconds for them all: None
        when every one was acknowledged. BufferError or KafkaFatal when one cannot even
        be queued."""
        with self._lock:
            self._refusals.clear()
            for key, value in messages:
                self._producer.produce(topic, value, key)
            left = self._producer.flush(timeout)
            if left or self._refusals:
                return Unconfirmed(left, self._refusals[0] if self._refusals else "")
            return None

    def flush(self, timeout: float) -> int:
        return self._producer.flush(timeout)

    def _refused(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._refusals.append(error.str())
