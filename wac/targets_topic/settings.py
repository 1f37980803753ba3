"""Where the targets topic is, read once from the settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wac.config import KafkaSettings, load_settings
from wac.settings import variables as v


@dataclass(frozen=True)
class TargetsTopicSettings:
    """The Kafka client settings, the targets topic's name and its partitions on creation."""

    kafka: KafkaSettings
    topic: str
    partitions: int
    check_timeout: float = 1.0  # a definition without `timeout` gets CHECK_TIMEOUT


def targets_topic_settings(env: Mapping[str, str]) -> TargetsTopicSettings:
    """The targets topic's settings from the merged environment; ConfigError when Kafka's
    endpoint is missing."""
    settings = load_settings(env)
    kafka = settings.kafka()
    return TargetsTopicSettings(
        kafka=kafka,
        topic=v.KAFKA_TARGETS_TOPIC.read(env) or f"{kafka.topic}-targets",
        partitions=v.WAC_TARGETS_PARTITIONS.read(env),
        check_timeout=settings.check_timeout,
    )
