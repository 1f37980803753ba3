"""The producer: bounded buffer while the broker is away, drops counted, logged once; flush."""

from __future__ import annotations

import logging

import pytest

from tests.support.kafka_read import read_topic
from tests.support.processes import wait_for
from tests.support.servers import free_port
from wac.config import load_settings
from wac.monitor.publisher import ResultPublisher
from wac.result import CheckResult, Phases, decode, new_check_id, utc_now


def result(target: str) -> CheckResult:
    return CheckResult(
        v=1,
        id=new_check_id(),
        target=target,
        url="http://example.test/",
        monitor="test",
        checked_at=utc_now(),
        ok=True,
        status_code=200,
        response_time_ms=1.0,
        phases=Phases(),
        pattern=None,
        pattern_matched=None,
        tls_expires_at=None,
        error=None,
    )


def test_broker_away_buffers_up_to_the_bound_counts_drops_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kafka = load_settings(
        {"KAFKA_ENDPOINT": f"127.0.0.1:{free_port()}", "KAFKA_USE_SSL": "false"}
    ).kafka()
    caplog.set_level(logging.WARNING, logger="wac.monitor.publisher")
    publisher = ResultPublisher(kafka, buffer_limit=5)
    try:
        accepted = [publisher.publish(result(f"t{i}")) for i in range(20)]
        assert accepted == [True] * 5 + [False] * 15
        assert publisher.stats.produced == 5 and publisher.stats.dropped == 15
        assert publisher.waiting >= 5  # librdkafka also counts its events not yet served
        wait_for(
            lambda: any("Kafka unavailable" in r.getMessage() for r in caplog.records),
            20,
            "the outage to be logged",
        )
        for i in range(20):  # more drops in the same outage: no more log lines
            publisher.publish(result(f"more{i}"))
    finally:
        undelivered = publisher.close(timeout=0.5)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Kafka unavailable" in m for m in messages) == 1
    assert sum("buffer full" in m for m in messages) == 1
    assert publisher.stats.dropped == 35
    assert undelivered == 5 and publisher.stats.delivered == 0


@pytest.mark.integration
def test_everything_published_is_delivered_and_flushed_on_close(
    isolated_env: dict[str, str],
) -> None:
    from wac.runtime.kafka import ensure_topic

    kafka = load_settings(isolated_env).kafka()
    ensure_topic(kafka)
    publisher = ResultPublisher(kafka)
    sent = [result(f"target-{i % 7}") for i in range(500)]
    for r in sent:
        assert publisher.publish(r)
    assert publisher.close() == 0
    assert publisher.stats.delivered == publisher.stats.produced == 500
    records = read_topic(isolated_env)
    assert sorted(k or b"" for k, _ in records) == sorted(r.target.encode() for r in sent)
    assert {decode(v).id for _, v in records} == {r.id for r in sent}
