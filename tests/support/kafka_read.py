"""Reading a whole topic with a plain confluent-kafka consumer, as another client would."""

from __future__ import annotations

import uuid
from functools import partial

from confluent_kafka import Consumer, TopicPartition

from tests.support.kafka_ready import LEADER_NOT_READY, once_ready
from wac.config import load_settings
from wac.runtime.kafka import client_config


def read_topic(env: dict[str, str], timeout: float = 20) -> list[tuple[bytes | None, bytes]]:
    """Every (key, value) in the topic of `env`, from the start to the current end."""
    kafka = load_settings(env).kafka()
    consumer = Consumer(
        client_config(
            kafka,
            **{"group.id": f"reader-{uuid.uuid4().hex}", "enable.auto.commit": False},
        )
    )
    try:
        metadata = consumer.list_topics(kafka.topic, timeout=timeout)
        partitions = list(metadata.topics[kafka.topic].partitions)
        ends = {}

        def watermarks(partition: int) -> tuple[int, int]:
            tp = TopicPartition(kafka.topic, partition)
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
            return low, high

        for p in partitions:
            low, high = once_ready(
                partial(watermarks, p), LEADER_NOT_READY, within=timeout, pause=0.2
            )
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(kafka.topic, p, 0) for p in ends])
        records: list[tuple[bytes | None, bytes]] = []
        positions = dict.fromkeys(ends, 0)
        while any(positions[p] < ends[p] for p in ends):
            message = consumer.poll(timeout)
            assert message is not None, "topic read timed out"
            assert message.error() is None, message.error()
            value, partition, offset = message.value(), message.partition(), message.offset()
            assert value is not None and partition is not None and offset is not None
            records.append((message.key(), value))
            positions[partition] = offset + 1
        return records
    finally:
        consumer.close()
