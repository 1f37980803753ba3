"""The targets topic on the real local Kafka: created compacted, definitions and
tombstones published and read back (latest record wins), bad records skipped and named."""

from __future__ import annotations

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from wac.runtime.kafka import client_config
from wac.targets import target_from_json
from wac.targets.definition import Definition
from wac.targets_topic import (
    ensure_targets_topic,
    publish_definitions,
    read_definitions,
    targets_topic_settings,
)


def definition(name: str, url: str = "http://127.0.0.1:9/", paused: bool = False) -> Definition:
    return Definition(target_from_json({"url": url, "name": name}), paused=paused)


def test_the_topic_is_created_compacted_once(isolated_env: dict[str, str]) -> None:
    isolated_env["WAC_TARGETS_PARTITIONS"] = "5"
    settings = targets_topic_settings(isolated_env)
    assert settings.topic == isolated_env["KAFKA_TOPIC"] + "-targets"
    ensure_targets_topic(settings)
    ensure_targets_topic(settings)  # already there: left alone
    admin = AdminClient(client_config(settings.kafka))
    topic = admin.list_topics(timeout=10).topics[settings.topic]
    assert len(topic.partitions) == 5
    resource = ConfigResource(ConfigResource.Type.TOPIC, settings.topic)
    configs = admin.describe_configs([resource])[resource].result(10)
    assert configs["cleanup.policy"].value == "compact"


def test_kafka_targets_topic_names_the_topic(isolated_env: dict[str, str]) -> None:
    isolated_env["KAFKA_TARGETS_TOPIC"] = isolated_env["KAFKA_TOPIC"] + "-own-defs"
    settings = targets_topic_settings(isolated_env)
    assert settings.topic.endswith("-own-defs")
    assert read_definitions(settings) == {}  # not created yet: nothing defined


def test_published_definitions_read_back_latest_wins(isolated_env: dict[str, str]) -> None:
    settings = targets_topic_settings(isolated_env)
    ensure_targets_topic(settings)
    first = {f"t{i}": definition(f"t{i}") for i in range(50)}
    publish_definitions(settings, first)
    assert read_definitions(settings) == first
    changed = definition("t1", url="http://127.0.0.1:10/", paused=True)
    publish_definitions(settings, {"t1": changed, "t2": None, "t3": None})
    expected = {**first, "t1": changed}
    del expected["t2"], expected["t3"]
    assert read_definitions(settings) == expected
    publish_definitions(settings, {"t2": definition("t2")})  # defined again after a delete
    assert read_definitions(settings)["t2"] == definition("t2")


def test_a_bad_record_is_skipped_and_named(isolated_env: dict[str, str]) -> None:
    settings = targets_topic_settings(isolated_env)
    ensure_targets_topic(settings)
    publish_definitions(
        settings, {"good": definition("good"), "later-bad": definition("later-bad")}
    )
    producer = Producer(client_config(settings.kafka))
    producer.produce(settings.topic, key=b"junk", value=b"{not json")
    producer.produce(settings.topic, key=b"later-bad", value=b'{"v": 1, "url": 5}')
    producer.flush(10)
    problems: list[str] = []
    found = read_definitions(settings, problems)
    assert found == {"good": definition("good")}
    assert len(problems) == 2  # (Kafka refuses a record without a key on a compacted topic)
    assert any("'junk'" in p or "not valid JSON" in p for p in problems)
    assert any("`url` is required" in p for p in problems)
    assert all(settings.topic in p and "offset" in p for p in problems)
