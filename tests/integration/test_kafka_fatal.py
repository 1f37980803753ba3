"""The fatal-error policy on the real broker.

A producer (the monitor's results, the alerts' events): one line, a new producer, and
every result accepted still delivered; a second fatal error soon after: the monitor
stops with exit code 2. A consumer (here `wac alert`, fenced as a static member by a
second process with the same instance id): one line and exit code 2.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.test_publisher import result
from tests.support.kafka_fatal import trigger_fatal_error
from tests.support.kafka_read import read_topic
from tests.support.processes import wait_for
from wac.config import load_settings
from wac.monitor.publisher import ResultPublisher
from wac.result import decode
from wac.runtime.kafka import ensure_topic
from wac.runtime.kafka_fatal import KafkaFatal

pytestmark = pytest.mark.integration


def provoke(publisher: ResultPublisher, client_id: str) -> None:
    trigger_fatal_error(publisher._producer._producer, client_id)


@pytest.fixture
def kafka_env(isolated_env: dict[str, str]) -> dict[str, str]:
    env = {**isolated_env, "KAFKA_CLIENT_ID": f"fatal-{uuid.uuid4().hex[:8]}"}
    ensure_topic(load_settings(env).kafka())
    return env


def test_a_fatal_producer_error_is_one_line_then_a_new_producer_and_nothing_lost(
    kafka_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    publisher = ResultPublisher(load_settings(kafka_env).kafka())
    sent = [result(f"target-{i % 5}") for i in range(300)]
    for r in sent[:150]:
        assert publisher.publish(r)
    provoke(publisher, kafka_env["KAFKA_CLIENT_ID"])  # with results still queued
    wait_for(lambda: publisher._producer.renewals == 1, 20, "the producer to be replaced")
    for r in sent[150:]:
        assert publisher.publish(r)  # accepted by the new producer, no exception
    assert publisher.close() == 0
    assert publisher.failed is None
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    line = errors[0].getMessage()
    assert "Kafka producer of results failed for good" in line and "replaced" in line
    assert "\n" not in line and errors[0].exc_info is None
    # Every result accepted reached the broker (a requeued one may be there twice: its id
    # makes the store keep one).
    assert {decode(value).id for _, value in read_topic(kafka_env)} == {r.id for r in sent}
    assert publisher.stats.failed == 0 and publisher.stats.dropped == 0


def test_a_second_fatal_error_soon_after_stops_the_monitor_with_exit_code_2(
    kafka_env: dict[str, str], site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wac.monitor import service
    from wac.monitor.service import MonitorOptions, run_monitor
    from wac.targets import target_from_url

    client_id = kafka_env["KAFKA_CLIENT_ID"]
    made: list[ResultPublisher] = []

    class Publisher(ResultPublisher):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(service, "ResultPublisher", Publisher)

    def break_it_twice() -> None:
        wait_for(lambda: made and made[0].stats.produced > 0, 30, "results published")
        provoke(made[0], client_id)
        wait_for(lambda: made[0]._producer.renewals == 1, 20, "the first replacement")
        provoke(made[0], client_id)

    threading.Thread(target=break_it_twice, daemon=True).start()
    targets = [target_from_url(f"{site}/ok?n={i}", interval=0.2, timeout=1.0) for i in range(3)]
    started = time.monotonic()
    with pytest.raises(KafkaFatal) as stopped:
        run_monitor(
            lambda: targets,
            load_settings(kafka_env).kafka(),
            MonitorOptions(monitor_name="fatal-test", summary_interval=3600),
        )
    assert time.monotonic() - started < 60
    assert stopped.value.exit_code == 2
    assert "failed for good again" in str(stopped.value)


def test_events_are_still_delivered_after_a_fatal_error_of_their_producer(
    kafka_env: dict[str, str],
) -> None:
    from wac.alerts.outbox import EventSink

    kafka = load_settings(kafka_env).kafka()
    sink = EventSink(kafka, kafka.topic)
    sink.send("a", b'{"n": 1}')
    trigger_fatal_error(sink._producer._producer._producer, kafka_env["KAFKA_CLIENT_ID"])
    sink.send("b", b'{"n": 2}')  # no exception: a new producer took it
    sink.close()
    assert sink.failed is None
    assert sorted(value for _, value in read_topic(kafka_env)) == [b'{"n": 1}', b'{"n": 2}']


def _alert(env: dict[str, str], log: Path) -> Callable[[], subprocess.Popen[bytes]]:
    def start() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "wac", "alert", "--instance", "one"],
                env=env,
                stdout=out,
                stderr=out,
            )

    return start


def test_a_fenced_static_member_stops_with_one_line_and_exit_code_2(
    kafka_env: dict[str, str], tmp_path: Path
) -> None:
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = _alert(kafka_env, first_log)()
    second = None
    try:
        wait_for(lambda: "assigned partitions" in first_log.read_text(), 60, "the first member")
        second = _alert(kafka_env, second_log)()
        code = first.wait(60)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(30)
    log = first_log.read_text()
    assert code == 2, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    errors = [line for line in log.splitlines() if line.startswith("wac: error:")]
    assert len(errors) == 1, log[-3000:]
    assert "its Kafka consumer failed for good" in errors[0]
    assert "same static group member" in errors[0] and "--instance" in errors[0]
