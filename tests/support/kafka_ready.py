"""Asking a broker that may have just started: its answers may say "not ready yet"."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

T = TypeVar("T")

# A group's coordinator not elected or still loading.
COORDINATOR_NOT_READY = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError._TIMED_OUT,
}
# A topic just created whose partition leaders are not known everywhere yet.
LEADER_NOT_READY = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
}


def once_ready(call: Callable[[], T], not_ready: Collection[int], within: float, pause: float) -> T:
    """`call()`, again after `pause` while it fails with a retriable error or one of
    `not_ready` (librdkafka does not mark every such answer retriable), for `within` s."""
    deadline = time.monotonic() + within
    while True:
        try:
            return call()
        except KafkaException as exc:
            error = exc.args[0]
            waiting = error.retriable() or error.code() in not_ready
            if not waiting or time.monotonic() > deadline:
                raise
            time.sleep(pause)
