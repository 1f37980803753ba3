"""The configuration of every Kafka consumer and producer wac runs, built in one place.

On top of the connection settings (`wac.runtime.kafka.client_config`):

- a consumer (the store, `wac alert`) reads what was committed only, commits its
  offsets itself once the results are safe, and starts from the beginning of a
  partition its group never read;
- a producer (the monitor's results, the alerts' events) is idempotent and waits for
  every in-sync replica (`acks=all`): a retry never writes a result twice, and an
  acknowledged result survives the loss of a broker.

Both get librdkafka's log routed to a quiet logger and, given a `KafkaWatch`, their
error and statistics callbacks. `extra` holds what only one service sets.
"""

from __future__ import annotations

from typing import Any

from wac.config import KafkaSettings
from wac.runtime.kafka import client_config, librdkafka_logger
from wac.runtime.kafka_watch import KafkaWatch

SESSION_TIMEOUT_MS = 10000


def consumer_config(
    kafka: KafkaSettings,
    *,
    group_id: str,
    watch: KafkaWatch | None = None,
    instance_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "logger": librdkafka_logger(),
    }
    if instance_id:
        settings["group.instance.id"] = instance_id
    if watch is not None:
        settings.update(watch.callbacks())
    settings.update(extra)
    return client_config(kafka, **settings)


def producer_config(
    kafka: KafkaSettings,
    *,
    linger_ms: int,
    message_timeout_ms: int,
    watch: KafkaWatch | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """`message_timeout_ms`: how long a message may wait for the broker (0: for ever)."""
    settings: dict[str, Any] = {
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": linger_ms,
        "message.timeout.ms": message_timeout_ms,
        "logger": librdkafka_logger(),
    }
    if watch is not None:
        settings.update(watch.callbacks())
    settings.update(extra)
    return client_config(kafka, **settings)
