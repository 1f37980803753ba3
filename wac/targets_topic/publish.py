"""Definitions and tombstones written to the targets topic: all of them, or an error."""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka import KafkaError, Message, Producer

from wac.errors import ServiceUnavailable
from wac.runtime.kafka import CONNECT_TIMEOUT_S, client_config, librdkafka_logger
from wac.targets.definition import Definition, encode_definition
from wac.targets_topic.settings import TargetsTopicSettings

Changes = Mapping[str, Definition | None]


def publish_definitions(
    settings: TargetsTopicSettings, changes: Changes, timeout: float = CONNECT_TIMEOUT_S
) -> None:
    """Write each change (target id → its definition, or None to delete it) and wait
    until Kafka has every one; ServiceUnavailable naming the first failure otherwise.

    The producer is idempotent (acks=all), so a retry inside librdkafka never writes a
    record twice nor reorders a target's records; publishing the same change again only
    adds a record compaction removes.
    """
    if not changes:
        return
    for target_id, definition in changes.items():
        if definition is not None and definition.target.id != target_id:
            raise ValueError(f"change {target_id!r} holds the definition of another id")
    producer = Producer(
        client_config(
            settings.kafka,
            logger=librdkafka_logger(),
            **{
                "enable.idempotence": True,
                "acks": "all",
                "message.timeout.ms": int(timeout * 1000),
                "compression.type": "lz4",
            },
        )
    )
    failures: list[str] = []

    def delivered(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            key = (message.key() or b"").decode("utf-8", "replace")[:200]
            failures.append(f"{key!r}: {error.str()}")

    for target_id, definition in changes.items():
        if definition is None:
            key, value = target_id.encode(), None
        else:
            key, value = encode_definition(definition)
        producer.produce(settings.topic, key=key, value=value, on_delivery=delivered)
        producer.poll(0)
    left = producer.flush(timeout + 5)
    if failures or left:
        problem = failures[0] if failures else f"{left} not acknowledged in time"
        raise ServiceUnavailable(
            f"the targets topic {settings.topic!r} did not take every change "
            f"({len(failures) or left} of {len(changes)} failed; first: {problem}): "
            "check that Kafka is up and run the command again (changes are idempotent)"
        )
