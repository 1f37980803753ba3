"""The Kafka client configuration of every service, and the callbacks that watch it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError

from tests.unit.test_kafka_health import broker, consumer_stats, partition
from wac.config import KafkaSettings
from wac.runtime.kafka_clients import consumer_config, producer_config
from wac.runtime.kafka_fatal import consumer_failed, fatal_in, is_fatal
from wac.runtime.kafka_health import STATS_INTERVAL_MS
from wac.runtime.kafka_watch import CONSUMER_STUCK, KafkaWatch, consumer_waiting

KAFKA = KafkaSettings(
    endpoint="127.0.0.1:9",
    cert_dir=Path("."),
    topic="results",
    client_id="wac-test",
    group_id="g",
    use_ssl=False,
    partitions=1,
)


def watch(caplog: pytest.LogCaptureFixture, now: list[float], **kw: object) -> KafkaWatch:
    return KafkaWatch(
        logging.getLogger("tests.kafka_watch"),
        meanwhile="waiting",
        stuck=CONSUMER_STUCK,
        clock=lambda: now[0],
        **kw,  # type: ignore[arg-type]
    )


def test_a_consumer_commits_itself_reads_committed_only_and_starts_at_the_beginning() -> None:
    extra: dict[str, Any] = {"fetch.min.bytes": 7}
    config = consumer_config(KAFKA, group_id="g-alert", instance_id="a1", **extra)
    assert config["group.id"] == "g-alert" and config["group.instance.id"] == "a1"
    assert config["enable.auto.commit"] is False and config["enable.auto.offset.store"] is False
    assert config["isolation.level"] == "read_committed"
    assert config["auto.offset.reset"] == "earliest"
    assert config["bootstrap.servers"] == "127.0.0.1:9" and config["client.id"] == "wac-test"
    assert config["fetch.min.bytes"] == 7  # what one service adds
    assert "group.instance.id" not in consumer_config(KAFKA, group_id="g")
    assert "stats_cb" not in consumer_config(KAFKA, group_id="g")  # no watch: no callbacks


def test_a_producer_is_idempotent_and_waits_for_every_replica() -> None:
    config = producer_config(KAFKA, linger_ms=20, message_timeout_ms=0)
    assert config["enable.idempotence"] is True and config["acks"] == "all"
    assert config["linger.ms"] == 20 and config["message.timeout.ms"] == 0
    assert config["logger"].name == "wac.runtime.kafka.librdkafka"


def test_a_watch_hands_its_callbacks_to_the_client(caplog: pytest.LogCaptureFixture) -> None:
    kafka_watch = watch(caplog, [0.0])
    config = producer_config(KAFKA, linger_ms=5, message_timeout_ms=1000, watch=kafka_watch)
    assert config["error_cb"] == kafka_watch.on_error
    assert config["stats_cb"] == kafka_watch.on_stats
    assert config["statistics.interval.ms"] == STATS_INTERVAL_MS


def test_a_consumer_that_cannot_fetch_is_one_outage_of_two_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    lags: list[int | None] = []
    outages: list[None] = []
    kafka_watch = watch(
        caplog,
        now,
        waiting=consumer_waiting,
        on_view=lambda view: lags.append(view.lag),
        on_outage=lambda: outages.append(None),
    )
    behind = consumer_stats([broker(1, "UP")], {"0": partition(1, lag=50)})
    caplog.set_level(logging.INFO, logger="tests.kafka_watch")
    for second in range(0, 40, 1):
        now[0] = 100.0 + second
        kafka_watch.on_stats(behind)
    kafka_watch.on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "down"))
    now[0] = 150.0
    kafka_watch.progress()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and len(outages) == 1, lines
    assert lines[0].startswith(f"Kafka unavailable: {CONSUMER_STUCK}, no progress for 20.0 s")
    assert lines[1] == "Kafka is back after 50.0 s"
    assert lags[0] == 50


def test_fatal_errors_are_told_apart() -> None:
    from confluent_kafka import KafkaException

    fatal = KafkaError(KafkaError._FATAL, "Fatal error: fenced")
    assert (
        is_fatal(fatal) and not is_fatal(KafkaError(KafkaError._TRANSPORT)) and not is_fatal(None)
    )
    assert fatal_in(KafkaException(fatal)) is fatal
    assert fatal_in(KafkaException(KafkaError(KafkaError._TRANSPORT))) is None
    assert fatal_in(ValueError("x")) is None


def test_a_fenced_static_member_is_told_to_use_its_own_instance_id() -> None:
    error = KafkaError(
        KafkaError._FATAL,
        "Fatal error: Broker: Static consumer fenced by other consumer with same group.instance.id",
    )
    message = str(consumer_failed(error, "wac alert"))
    assert message.startswith("wac alert stopped: its Kafka consumer failed for good")
    assert "--instance" in message and "\n" not in message
    assert consumer_failed(error, "wac alert").exit_code == 2
