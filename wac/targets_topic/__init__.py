"""The targets topic on Kafka: the compacted log of managed target definitions.

- `settings`: where it is (`KAFKA_TARGETS_TOPIC`, `WAC_TARGETS_PARTITIONS`) and the
  Kafka client settings, read once (`targets_topic_settings`);
- `admin`: `ensure_targets_topic`, the compacted topic created when missing;
- `publish`: `publish_definitions`, definitions and tombstones, idempotent and flushed;
- `read`: `read_definitions`, the whole log to its high watermarks, latest record wins.

The records' form is `wac.targets.definition`; this package only moves them.
"""

from wac.targets_topic.admin import ensure_targets_topic
from wac.targets_topic.publish import publish_definitions
from wac.targets_topic.read import read_definitions, read_records
from wac.targets_topic.settings import TargetsTopicSettings, targets_topic_settings

__all__ = [
    "TargetsTopicSettings",
    "ensure_targets_topic",
    "publish_definitions",
    "read_definitions",
    "read_records",
    "targets_topic_settings",
]
