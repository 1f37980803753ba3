"""The targets topic, created compacted when it does not exist."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from wac.errors import ServiceUnavailable
from wac.runtime.kafka import (
    CONNECT_TIMEOUT_S,
    client_config,
    create_topic,
    librdkafka_logger,
)
from wac.targets_topic.settings import TargetsTopicSettings

log = logging.getLogger(__name__)

# Compaction keeps the latest record of each key; a tombstone is kept a day so that a
# reader that was away for less than that still sees the delete.
TOPIC_CONFIG = {"cleanup.policy": "compact", "delete.retention.ms": str(24 * 3600 * 1000)}


def ensure_targets_topic(
    settings: TargetsTopicSettings, timeout: float = CONNECT_TIMEOUT_S
) -> None:
    """Create the targets topic (compacted, `settings.partitions` partitions) when missing.

    An existing topic is left as it is, but one that is not compacted is refused: deleting
    old segments would lose definitions.
    """
    admin = AdminClient(client_config(settings.kafka, logger=librdkafka_logger()))
    topic = settings.topic
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise ServiceUnavailable(
            f"cannot list Kafka's topics to find the targets topic {topic!r}: {exc.args[0]}"
        ) from None
    found = metadata.topics.get(topic)
    if found is not None and found.error is None:
        _check_compacted(admin, topic, timeout)
        return
    new = NewTopic(
        topic, num_partitions=settings.partitions, replication_factor=-1, config=TOPIC_CONFIG
    )
    if create_topic(
        admin,
        new,
        timeout,
        lambda error: (
            f"the targets topic {topic!r} (KAFKA_TARGETS_TOPIC) does not exist and could not "
            f"be created: {error}. Create it with cleanup.policy=compact with your "
            "provider's tools, or grant this client CreateTopics"
        ),
    ):
        log.info("created the targets topic %s with %d partitions", topic, settings.partitions)


def _check_compacted(admin: AdminClient, topic: str, timeout: float) -> None:
    from confluent_kafka.admin import ConfigResource

    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    try:
        configs = admin.describe_configs([resource], request_timeout=timeout)[resource].result(
            timeout
        )
    except KafkaException:
        return  # not allowed to describe it: trust it, as the results topic is trusted
    policy = configs.get("cleanup.policy")
    if policy is not None and "compact" not in str(policy.value):
        raise ServiceUnavailable(
            f"the targets topic {topic!r} (KAFKA_TARGETS_TOPIC) has cleanup.policy="
            f"{policy.value}: it must be compact, or definitions are deleted with old "
            f"segments; set it with kafka-configs --alter --add-config cleanup.policy=compact"
        )
