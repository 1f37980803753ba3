"""Several `wac alert` processes in one group: one notification per state change.

Up to three processes share the alert group on a results topic of six partitions. A
producer writes rounds of results for 24 targets (up, down, up, ...: with thresholds
of 1, every round after the first changes every target's state) while the test starts
a process, kills one with SIGKILL, starts another and pauses one (SIGSTOP) past its
session, so partitions move in the middle of the stream. A local webhook receiver
counts the notifications: each state change must reach it once (a repeat may carry
the same Idempotency-Key after a kill in mid-delivery, which receivers drop; a second
key is a second notification).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest
from confluent_kafka import Producer

from tests.integration.test_alerts import all_delivered, group_of, query, wait_caught_up
from tests.support.processes import wait_for
from tests.unit.test_alert_notifiers import WebhookReceiver, webhook_receiver
from wac.config import load_settings
from wac.result import CheckError, CheckResult, Phases, encode
from wac.runtime.kafka import client_config

pytestmark = pytest.mark.integration

TARGETS = 24
ROUNDS = 48  # round 0 is up (no notification), each later round flips every target
ROUND_GAP_S = 0.5


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    yield from webhook_receiver()


def result(target: str, ok: bool, at: datetime) -> CheckResult:
    return CheckResult(
        v=1,
        id=uuid.uuid4(),
        target=target,
        url=f"https://{target}.example/",
        monitor="loc-a",
        checked_at=at,
        ok=ok,
        status_code=200 if ok else 500,
        response_time_ms=1.0,
        phases=Phases(),
        pattern=None,
        pattern_matched=None,
        tls_expires_at=None,
        error=None if ok else CheckError("status", "HTTP status 500, expected 2xx or 3xx"),
    )


class Alerts:
    """The `wac alert` processes, each logging to a file of its own."""

    def __init__(self, config: Path, env: dict[str, str], logs: Path) -> None:
        self.config, self.env, self.logs = config, env, logs
        self.running: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []
        self.started = 0

    def start(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log = (self.logs / f"alert-{self.started}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "wac", "alert", "--config", str(self.config)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.running.append((process, log))
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(30)

    def stop_all(self) -> list[int]:
        codes = []
        for process, log in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            codes.append(process.wait(60))
            log.close()
        return codes

    def log_text(self) -> str:
        return "".join(p.read_text() for p in sorted(self.logs.glob("alert-*.log")))


def undelivered(env: dict[str, str]) -> list[tuple[object, ...]]:
    return query(
        env,
        "SELECT id, target, channel, kind, status, attempts, next_attempt_at, last_error"
        " FROM alert_outbox WHERE consumer_group = %s AND status <> 'sent' ORDER BY id",
        group_of(env),
    )


def assigned_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if "assigned partitions [" in line)


def test_one_notification_per_state_change_across_rebalances(
    tmp_path: Path, isolated_env: dict[str, str], webhook: WebhookReceiver
) -> None:
    env = {**isolated_env, "KAFKA_PARTITIONS": "6"}
    targets = [f"grp-{i:02d}-{uuid.uuid4().hex[:6]}" for i in range(TARGETS)]
    config = tmp_path / "alerts.yaml"
    config.write_text(
        "alerts:\n"
        "  defaults: {failure_threshold: 1, success_threshold: 1, reminder_interval: off}\n"
        f'  notifiers:\n    hook: {{type: webhook, url: "{webhook.url}/hook"}}\n'
        "  delivery: {retry_initial: 100ms, retry_max: 300ms}\n"
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    alerts = Alerts(config, env, logs)
    first = alerts.start()
    second = alerts.start()
    wait_for(
        lambda: all(assigned_lines(p.read_text()) for p in logs.glob("alert-*.log")),
        60,
        "both processes assigned partitions",
    )

    kafka = load_settings(env).kafka()
    producer = Producer(client_config(kafka, **{"enable.idempotence": True, "acks": "all"}))
    start = datetime.now(UTC).replace(microsecond=0)
    produced = threading.Event()

    def produce_rounds() -> None:
        for n in range(ROUNDS + 1):
            at = start + timedelta(seconds=n)
            for target in targets:
                value = encode(result(target, n % 2 == 0, at))
                producer.produce(kafka.topic, value, target.encode())
            producer.flush(30)
            time.sleep(ROUND_GAP_S)
        produced.set()

    thread = threading.Thread(target=produce_rounds, daemon=True)
    thread.start()
    try:
        time.sleep(ROUND_GAP_S * 5)
        alerts.start()  # a third member joins: partitions move
        time.sleep(ROUND_GAP_S * 6)
        alerts.kill(first)  # one killed: its partitions move after the session timeout
        time.sleep(ROUND_GAP_S * 6)
        alerts.start()  # and another joins
        time.sleep(ROUND_GAP_S * 2)
        # One paused past its session (10 s): its partitions move; resumed, it must
        # not plan what the new owners planned meanwhile.
        second.send_signal(signal.SIGSTOP)
        time.sleep(13)
        second.send_signal(signal.SIGCONT)
        assert produced.wait(120), "the producer did not finish"
        wait_caught_up(env, timeout=120)
        try:
            wait_for(lambda: all_delivered(env), 120, "the outbox delivered")
        except AssertionError:
            print(undelivered(env))
            raise
    finally:
        codes = alerts.stop_all()
    text = alerts.log_text()
    assert codes[0] == -signal.SIGKILL and codes[1:] == [0, 0, 0], text[-3000:]

    expected = TARGETS * ROUNDS
    accepted = webhook.accepted()
    keys = Counter(d.headers["Idempotency-Key"] for d in accepted)
    per_target: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for delivery in accepted:
        key = delivery.headers["Idempotency-Key"]
        if key in seen:
            continue
        seen.add(key)
        per_target[delivery.json["target"]].append(delivery.json["kind"])
    rebalances = assigned_lines(text)
    fenced = text.count("were taken over by another member")
    incidents = query(env, "SELECT count(*) FROM incidents WHERE target = ANY(%s)", targets)[0][0]
    print(
        f"\nalert group: {TARGETS} targets x {ROUNDS} state changes, 4 processes started"
        f" (1 killed, 1 paused 13 s): notifications expected {expected}, distinct received"
        f" {len(keys)},"
        f" deliveries accepted {len(accepted)} (same-key repeats"
        f" {len(accepted) - len(keys)}), incidents {incidents} (expected {expected // 2}),"
        f" partition assignments logged {rebalances}, batches fenced off {fenced}"
    )
    assert rebalances >= 4, "no partition moved"
    # A partition that moved after its results were read shows no lag (and no outage).
    assert "Kafka unavailable" not in text, text[-3000:]
    assert len(keys) == expected
    wanted = ["down", "up"] * (ROUNDS // 2)
    assert {t: kinds for t, kinds in per_target.items()} == dict.fromkeys(targets, wanted)
    assert incidents == expected // 2
    rows = query(
        env,
        "SELECT count(*) FROM alert_outbox WHERE consumer_group = %s AND status <> 'sent'",
        group_of(env),
    )
    assert rows == [(0,)]
