"""The targets topic read whole: every partition from its beginning to its high watermark.

Compaction keeps at least the latest record of each key, so reading the log in order and
letting each record replace the one before gives the current definitions. A record that
is not a valid definition is reported (a warning, and `problems` when given) and counts
as no definition for its key: that is what the log will say once compaction has removed
the key's earlier records, so a reader gets the same answer before and after compaction.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from wac.errors import ServiceUnavailable
from wac.runtime.kafka import client_config, librdkafka_logger
from wac.targets.definition import BadDefinition, Definition
from wac.targets.definition_models import DefinitionDecoder
from wac.targets_topic.settings import TargetsTopicSettings

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 60.0  # the whole log; 100,000 definitions take a few seconds


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def read_definitions(
    settings: TargetsTopicSettings,
    problems: list[str] | None = None,
    timeout: float = READ_TIMEOUT_S,
) -> dict[str, Definition]:
    """The current definitions, by target id; {} when the topic does not exist yet.

    A bad record is skipped and reported (logged, and appended to `problems`), never fatal.
    """
    found: dict[str, Definition] = {}
    decode = DefinitionDecoder(default_timeout=settings.check_timeout)
    for record in read_records(settings, timeout):
        try:
            definition = decode(record.key, record.value)
        except BadDefinition as exc:
            reason = (
                f"{settings.topic} partition {record.partition} offset {record.offset}: "
                f"skipped, {exc}"
            )
            log.warning("%s", reason)
            if problems is not None:
                problems.append(reason)
            if record.key is not None:
                found.pop(record.key.decode("utf-8", "replace"), None)
            continue
        key = record.key.decode() if record.key is not None else ""
        if definition is None:
            found.pop(key, None)
        else:
            found[key] = definition
    return found


def read_records(
    settings: TargetsTopicSettings, timeout: float = READ_TIMEOUT_S
) -> Iterator[Record]:
    """Every record of the targets topic, partition by partition in offset order, up to the
    high watermarks of when the read began; ServiceUnavailable when Kafka cannot be read."""
    consumer = Consumer(
        client_config(
            settings.kafka,
            logger=librdkafka_logger(),
            **{
                # Assigned, never subscribed: the group id is only librdkafka's requirement
                # and nothing is committed under it.
                "group.id": f"{settings.kafka.group_id}-targets-reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "allow.auto.create.topics": False,
            },
        )
    )
    deadline = time.monotonic() + timeout
    try:
        ends = _ends(consumer, settings.topic, timeout)
        if not ends:
            return
        consumer.assign([TopicPartition(settings.topic, p, OFFSET_BEGINNING) for p in ends])
        left = set(ends)
        while left:
            if time.monotonic() > deadline:
                raise ServiceUnavailable(
                    f"the targets topic {settings.topic!r} was not read to its end within "
                    f"{timeout:g} s: check that Kafka is up"
                )
            for message in consumer.consume(10_000, timeout=1.0):
                error = message.error()
                partition = message.partition()
                assert partition is not None  # a consumed message or EOF always has one
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        left.discard(partition)
                        continue
                    if error.fatal() or not error.retriable():
                        raise ServiceUnavailable(
                            f"cannot read the targets topic {settings.topic!r}: {error.str()}"
                        )
                    continue
                offset = message.offset()
                assert offset is not None
                if partition in left and offset < ends[partition]:
                    yield Record(partition, offset, message.key(), message.value())
                if offset + 1 >= ends[partition]:
                    left.discard(partition)
    finally:
        consumer.close()


def _ends(consumer: Consumer, topic: str, timeout: float) -> dict[int, int]:
    """Each partition's high watermark, for the partitions holding records. Retried while
    Kafka says it is settling (a topic just created has no leaders for a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            metadata = consumer.list_topics(timeout=timeout)  # all topics: never auto-creates
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                return {}
            ends = {}
            for partition in found.partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout
                )
                if high > low:
                    ends[partition] = high
            return ends
        except KafkaException as exc:
            error = exc.args[0]
            settling = isinstance(error, KafkaError) and error.code() in _SETTLING
            if not (settling or getattr(error, "retriable", lambda: False)()) or (
                time.monotonic() > deadline
            ):
                raise ServiceUnavailable(
                    f"cannot read the targets topic {topic!r}: {error}: check that Kafka is up"
                ) from None
            time.sleep(0.2)


_SETTLING = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
}
