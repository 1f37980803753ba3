"""`wac alert` end to end: a flipping site → real monitor → Kafka → wac alert → receivers.

Receivers are real: an HTTP webhook receiver (generic webhook and Slack-compatible
paths) and an aiosmtpd server requiring STARTTLS and a login. Synchronisation is on
observable facts (rows in PostgreSQL, requests received, the alert group's offsets
reaching the end of the topic), never on sleeping.
"""

from __future__ import annotations

import json
import re
import signal
import ssl
import subprocess
import threading
import urllib.request
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.support.kafka_read import read_topic
from tests.support.processes import start, stop, wait_for
from tests.support.servers import QuietServer, free_port
from tests.unit.test_alert_notifiers import (
    PASSWORD,
    SECRET,
    SmtpReceiver,
    WebhookReceiver,
    self_signed,
    smtp_receiver,
    webhook_receiver,
)
from wac.alerts.config import Delivery
from wac.alerts.db import AlertDB, OutboxRow
from wac.alerts.messages import Notification, encoder, key_id
from wac.alerts.notifiers import DeliveryError
from wac.alerts.outbox import Deliverer
from wac.config import load_settings
from wac.result import CheckResult, decode
from wac.runtime.kafka import client_config

pytestmark = pytest.mark.integration

INTERVAL = 0.25


# --- the site whose answers the test flips ---------------------------------------------------
@dataclass
class FlipSite:
    url: str = ""
    status: int = 200
    fail_next: int = 0
    served: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # After `hold_after` more answers, requests wait until `release` is set.
    hold_after: int | None = None
    release: threading.Event = field(default_factory=threading.Event)

    def answer(self) -> int:
        with self.lock:
            held = self.hold_after is not None and self.hold_after <= 0
            if self.hold_after is not None:
                self.hold_after -= 1
        if held:
            self.release.wait(20)
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                code = 500
            else:
                code = self.status
            self.served.append(code)
            return code

    def set(self, status: int) -> None:
        with self.lock:
            self.status = status

    def count(self) -> int:
        with self.lock:
            return len(self.served)


@pytest.fixture
def flip_site() -> Iterator[FlipSite]:
    yield from serve_flip_site()


def serve_flip_site(tls: ssl.SSLContext | None = None) -> Generator[FlipSite, None, None]:
    site = FlipSite()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            code = site.answer()
            body = f"status {code}".encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = QuietServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    scheme = "https" if tls is not None else "http"
    site.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/health"
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    yield from webhook_receiver()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpReceiver]:
    yield from smtp_receiver(tmp_path)


# --- helpers ---------------------------------------------------------------------------------
def write_config(path: Path, target: str, url: str, alerts: str, extra: str = "") -> Path:
    path.write_text(
        f"targets:\n  - url: {url}\n    name: {target}\n    interval: {INTERVAL}s\n"
        f"    timeout: 2s\n{extra}{alerts}"
    )
    return path


def alert_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "HOOK_SECRET": SECRET, "SMTP_PASSWORD": PASSWORD}


def group_of(env: dict[str, str]) -> str:
    return f"{env['KAFKA_GROUP_ID']}-alert"


def query(env: dict[str, str], sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        return conn.execute(sql, params).fetchall()


def target_state(env: dict[str, str], target: str) -> dict[str, Any] | None:
    rows = query(
        env,
        "SELECT state FROM alert_state WHERE consumer_group = %s AND target = %s",
        group_of(env),
        target,
    )
    return rows[0][0] if rows else None


def incidents(env: dict[str, str], target: str) -> list[tuple[Any, ...]]:
    return query(
        env,
        "SELECT id, started, ended, cause, locations FROM incidents WHERE target = %s ORDER BY id",
        target,
    )


def outbox(env: dict[str, str]) -> list[tuple[Any, ...]]:
    return query(
        env,
        "SELECT channel, kind, seq, status, attempts FROM alert_outbox"
        " WHERE consumer_group = %s ORDER BY id",
        group_of(env),
    )


def all_delivered(env: dict[str, str]) -> bool:
    rows = outbox(env)
    return bool(rows) and all(r[3] == "sent" for r in rows)


def topic_ends(env: dict[str, str]) -> dict[int, int]:
    kafka = load_settings(env).kafka()
    consumer = Consumer(client_config(kafka, **{"group.id": f"ends-{uuid.uuid4().hex}"}))
    try:
        partitions = consumer.list_topics(kafka.topic, timeout=10).topics[kafka.topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(kafka.topic, p), timeout=10)[1]
            for p in partitions
        }
    finally:
        consumer.close()


def wait_caught_up(env: dict[str, str], timeout: float = 30) -> None:
    """Wait until wac alert has committed everything now in the results topic."""
    ends = topic_ends(env)

    def done() -> bool:
        stored = dict(
            query(
                env,
                'SELECT "partition", next_offset FROM alert_offsets'
                " WHERE consumer_group = %s AND topic = %s",
                group_of(env),
                env["KAFKA_TOPIC"],
            )
        )
        return all(stored.get(p, 0) >= end for p, end in ends.items())

    wait_for(done, timeout, "wac alert to catch up with the results topic")


def results_of(env: dict[str, str], target: str) -> list[CheckResult]:
    results = [decode(value) for _, value in read_topic(env)]
    return sorted((r for r in results if r.target == target), key=lambda r: r.checked_at)


def events_of(env: dict[str, str]) -> list[dict[str, Any]]:
    events_env = {**env, "KAFKA_TOPIC": f"{env['KAFKA_TOPIC']}-events"}
    return [json.loads(value) for _, value in read_topic(events_env)]


def confirmation_times(results: list[CheckResult], failures: int, successes: int) -> list:
    """When a plain single-location counter would confirm down, then up, then down..."""
    times, down, streak, last = [], False, 0, None
    for r in results:
        streak = streak + 1 if r.ok == last else 1
        last = r.ok
        if not down and not r.ok and streak == failures:
            down = True
            times.append(r.checked_at)
        elif down and r.ok and streak == successes:
            down = False
            times.append(r.checked_at)
    return times


def at(delivery_json: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(delivery_json["at"].replace("Z", "+00:00"))


def start_alert(config: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return start(["wac", "alert", "--config", str(config), *extra], env)


def start_monitor(config: Path, env: dict[str, str], location: str) -> subprocess.Popen[str]:
    return start(["wac", "monitor", "--config", str(config), "--location", location], env)


def kill(process: subprocess.Popen[str]) -> str:
    """SIGKILL; returns what it had logged."""
    process.send_signal(signal.SIGKILL)
    return process.communicate(timeout=30)[1]


def kinds(deliveries: list[Any]) -> list[str]:
    return [d.json["kind"] for d in deliveries]


# --- scenarios -------------------------------------------------------------------------------
def test_thresholds_reminders_and_one_down_one_up_per_receiver(
    tmp_path: Path,
    isolated_env: dict[str, str],
    flip_site: FlipSite,
    webhook: WebhookReceiver,
    smtp: SmtpReceiver,
) -> None:
    env = alert_env(isolated_env)
    target = f"shop-{uuid.uuid4().hex[:8]}"
    config = write_config(
        tmp_path / "targets.yaml",
        target,
        flip_site.url,
        f"""alerts:
  defaults: {{failure_threshold: 3, success_threshold: 2, reminder_interval: 1s}}
  notifiers:
    hook: {{type: webhook, url: "{webhook.url}/hook", secret_env: HOOK_SECRET}}
    chat: {{type: slack, url: "{webhook.url}/slack"}}
    mail: {{type: email, host: 127.0.0.1, port: {smtp.port}, ca_file: "{smtp.ca_file}",
            username: alerts, password_env: SMTP_PASSWORD, from: wac@example.com,
            to: [ops@example.com]}}
  delivery: {{retry_initial: 200ms, retry_max: 1s}}
""",
    )
    alert = start_alert(config, env)
    monitor = start_monitor(config, env, "loc-a")
    try:
        wait_for(lambda: (target_state(env, target) or {}).get("status") == "up", 60, "target up")
        # Two failures (one below the threshold), then good checks again: nothing.
        served = flip_site.count()
        flip_site.fail_next = 2
        wait_for(lambda: flip_site.count() >= served + 5, 20, "2 failures then 3 good checks")
        wait_caught_up(env)
        assert incidents(env, target) == []
        assert webhook.all() == [] and smtp.received() == []

        # A real outage: down after the third failure, reminders every second, then up.
        flip_site.set(500)
        wait_for(lambda: webhook.accepted("/hook"), 30, "DOWN on the webhook")
        wait_for(
            lambda: any(d.json["kind"] == "reminder" for d in webhook.accepted("/hook")),
            30,
            "a reminder",
        )
        flip_site.set(200)
        wait_for(lambda: "up" in kinds(webhook.accepted("/hook")), 30, "UP on the webhook")
        wait_caught_up(env)
        wait_for(lambda: all_delivered(env), 30, "every notification delivered")
    finally:
        monitor_code, _, monitor_err = stop(monitor)
        alert_code, _, alert_err = stop(alert)
    assert alert_code == 0, alert_err
    assert monitor_code == 0, monitor_err
    assert SECRET not in alert_err and PASSWORD not in alert_err

    hook = webhook.accepted("/hook")
    sequence = kinds(hook)
    assert sequence[0] == "down" and sequence[-1] == "up"
    reminders = [d.json["reminder"] for d in hook if d.json["kind"] == "reminder"]
    assert sequence == ["down"] + ["reminder"] * len(reminders) + ["up"]
    assert reminders == list(range(1, len(reminders) + 1))
    assert len({d.headers["Idempotency-Key"] for d in hook}) == len(hook)
    assert all(d.signature_ok() for d in hook)
    assert webhook.all("/hook") == hook  # nothing refused, nothing retried

    # The same notifications reached Slack and the mailbox, once each.
    slack = webhook.accepted("/slack")
    assert [d.headers["Idempotency-Key"] for d in slack] == [
        d.headers["Idempotency-Key"] for d in hook
    ]
    assert slack[0].json["text"].startswith(":red_circle: DOWN " + target)
    mails = smtp.received()
    assert [m.kind for m in mails] == sequence
    assert all(m.starttls and m.login == "alerts" for m in mails)
    assert [m.message["Message-ID"] for m in mails] == [
        f"<{d.headers['Idempotency-Key']}@wac.alert>" for d in hook
    ]

    # Thresholds, checked against the results in the topic: down exactly at the third
    # failure in a row (the earlier two did nothing), up exactly at the second success.
    results = results_of(env, target)
    down_at, up_at = confirmation_times(results, 3, 2)
    assert at(hook[0].json) == down_at
    assert at(hook[-1].json) == up_at

    (incident,) = incidents(env, target)
    incident_id, started, ended, cause, locations = incident
    assert ended is not None and started < down_at <= ended < up_at + timedelta(seconds=1)
    assert "500" in cause and locations == ["loc-a"]
    assert hook[0].json["incident"]["id"] == incident_id
    events = [e for e in events_of(env) if e["target"] == target]
    assert [e["type"] for e in events] == ["incident_opened", "incident_resolved"]
    assert {e["incident"]["id"] for e in events} == {incident_id}


def test_maintenance_window_silences_and_an_outage_outlasting_it_is_announced(
    tmp_path: Path,
    isolated_env: dict[str, str],
    flip_site: FlipSite,
    webhook: WebhookReceiver,
) -> None:
    env = alert_env(isolated_env)
    target = f"blog-{uuid.uuid4().hex[:8]}"
    window_end = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=18)
    begin = (window_end - timedelta(hours=1)).isoformat()
    config = write_config(
        tmp_path / "targets.yaml",
        target,
        flip_site.url,
        f"""alerts:
  defaults: {{failure_threshold: 2, success_threshold: 2, reminder_interval: off}}
  notifiers:
    hook: {{type: webhook, url: "{webhook.url}/hook", secret_env: HOOK_SECRET}}
  maintenance:
    - {{name: deploy, targets: [{target}], start: "{begin}", end: "{window_end.isoformat()}"}}
""",
    )
    alert = start_alert(config, env)
    monitor = start_monitor(config, env, "loc-a")
    try:
        wait_for(lambda: (target_state(env, target) or {}).get("status") == "up", 60, "target up")
        # An outage that begins and ends inside the window: recorded, never sent.
        flip_site.set(500)
        wait_for(lambda: incidents(env, target), 30, "the first incident")
        flip_site.set(200)
        wait_for(lambda: incidents(env, target)[0][2] is not None, 30, "its end")
        # One that begins inside the window and outlasts it.
        flip_site.set(500)
        wait_for(lambda: len(incidents(env, target)) == 2, 30, "the second incident")
        assert datetime.now(UTC) < window_end, "machine too slow for this window"
        wait_caught_up(env)
        assert webhook.all() == []
        assert [r[0] for r in outbox(env)] == ["@events"] * 3  # opened, resolved, opened
        wait_for(lambda: webhook.accepted(), 40, "DOWN once the window is over")
        received_at = datetime.now(UTC)
        flip_site.set(200)
        wait_for(lambda: len(webhook.accepted()) == 2, 30, "UP")
        wait_caught_up(env)
        wait_for(lambda: all_delivered(env), 30, "every notification delivered")
    finally:
        stop(monitor)
        alert_code, _, alert_err = stop(alert)
    assert alert_code == 0, alert_err
    assert received_at >= window_end
    first, second = incidents(env, target)
    down, up = webhook.accepted()
    assert (down.json["kind"], up.json["kind"]) == ("down", "up")
    assert down.json["incident"]["id"] == up.json["incident"]["id"] == second[0]
    assert at(down.json) < window_end  # confirmed in the window, told after it
    # Events are facts for other systems: published for both incidents regardless.
    events = [(e["type"], e["incident"]["id"]) for e in events_of(env)]
    assert events == [
        ("incident_opened", first[0]),
        ("incident_resolved", first[0]),
        ("incident_opened", second[0]),
        ("incident_resolved", second[0]),
    ]


def test_down_only_when_a_quorum_of_locations_agree(
    tmp_path: Path,
    isolated_env: dict[str, str],
    flip_site: FlipSite,
    webhook: WebhookReceiver,
) -> None:
    """Two monitors check the same target from two places; each place sees its own site."""
    env = alert_env(isolated_env)
    target = f"edge-{uuid.uuid4().hex[:8]}"
    site_b = serve_flip_site()
    other = next(site_b)
    alerts = f"""alerts:
  defaults: {{failure_threshold: 2, success_threshold: 1, quorum: majority,
             reminder_interval: off}}
  notifiers:
    hook: {{type: webhook, url: "{webhook.url}/hook"}}
"""
    config_a = write_config(tmp_path / "a.yaml", target, flip_site.url, alerts)
    config_b = write_config(tmp_path / "b.yaml", target, other.url, "")
    alert = start_alert(config_a, env)
    monitors = [start_monitor(config_a, env, "loc-a"), start_monitor(config_b, env, "loc-b")]

    def location(name: str) -> str:
        state = target_state(env, target) or {}
        return str(state.get("locations", {}).get(name, {}).get("status"))

    try:
        wait_for(lambda: location("loc-a") == location("loc-b") == "up", 60, "both up")
        # One place of two sees the site down: not a majority.
        flip_site.set(500)
        wait_for(lambda: location("loc-a") == "down", 30, "loc-a down")
        served = flip_site.count()
        wait_for(lambda: flip_site.count() >= served + 3, 20, "more failures at loc-a")
        wait_caught_up(env)
        assert incidents(env, target) == [] and webhook.all() == []
        # Both agree: down, seen from both.
        other.set(500)
        wait_for(lambda: webhook.accepted(), 30, "DOWN")
        # One recovers: below the quorum again, so up.
        flip_site.set(200)
        wait_for(lambda: len(webhook.accepted()) == 2, 30, "UP")
        wait_caught_up(env)
        wait_for(lambda: all_delivered(env), 30, "outbox delivered")
    finally:
        for monitor in monitors:
            stop(monitor)
        alert_code, _, alert_err = stop(alert)
        site_b.close()
    assert alert_code == 0, alert_err
    down, up = webhook.accepted()
    assert (down.json["kind"], up.json["kind"]) == ("down", "up")
    assert down.json["incident"]["locations"] == ["loc-a", "loc-b"]
    assert "seen from loc-a, loc-b" in down.json["text"]
    ((_, _, ended, _, locations),) = incidents(env, target)
    assert ended is not None and locations == ["loc-a", "loc-b"]


def test_certificate_expiry_warning_once(
    tmp_path: Path, isolated_env: dict[str, str], webhook: WebhookReceiver
) -> None:
    env = alert_env(isolated_env)
    target = f"tls-{uuid.uuid4().hex[:8]}"
    cert, key = self_signed(tmp_path, valid=timedelta(days=3, hours=1))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    serving = serve_flip_site(context)
    site = next(serving)
    config = write_config(
        tmp_path / "targets.yaml",
        target,
        site.url,
        f"""alerts:
  defaults: {{cert_expiry_days: [14, 7, 1]}}
  notifiers:
    hook: {{type: webhook, url: "{webhook.url}/hook"}}
""",
        extra="    verify_tls: false\n",
    )
    alert = start_alert(config, env)
    monitor = start_monitor(config, env, "loc-a")
    try:
        wait_for(lambda: webhook.accepted(), 60, "the certificate warning")
        served = site.count()
        wait_for(lambda: site.count() >= served + 4, 20, "more checks of the same certificate")
        wait_caught_up(env)
        wait_for(lambda: all_delivered(env), 30, "outbox delivered")
    finally:
        stop(monitor)
        alert_code, _, alert_err = stop(alert)
        serving.close()
    assert alert_code == 0, alert_err
    (warning,) = webhook.accepted()
    body = warning.json
    assert body["kind"] == "certificate" and body["incident"] is None
    assert body["certificate"]["threshold_days"] == 7
    assert 2.9 < body["certificate"]["days_left"] < 3.1
    assert body["text"].startswith(f"CERTIFICATE {target}: expires in 3.0 days")
    events = [e for e in events_of(env) if e["target"] == target]
    assert [e["type"] for e in events] == ["certificate_expiring"]
    assert incidents(env, target) == []


def test_alert_messages_name_the_probe(
    tmp_path: Path, isolated_env: dict[str, str], webhook: WebhookReceiver
) -> None:
    """Results of the tcp probe (a closed port, checked for real) through Kafka to
    `wac alert`: the incident's cause and the message delivered name the probe."""
    from tests.support.probes import check_url
    from tests.support.store import produce

    env = alert_env(isolated_env)
    target = f"port-{uuid.uuid4().hex[:8]}"
    config = write_config(
        tmp_path / "targets.yaml",
        target,
        "http://127.0.0.1:1/",  # never checked here: the results come from the tcp probe
        f"""alerts:
  defaults: {{failure_threshold: 2, success_threshold: 1}}
  notifiers:
    hook: {{type: webhook, url: "{webhook.url}/hook"}}
""",
    )
    closed = f"tcp://127.0.0.1:{free_port()}"
    failures = [check_url(closed, target_id=target) for _ in range(3)]
    assert all(r.probe == "tcp" and r.error and r.error.kind == "connect" for r in failures)
    alert = start_alert(config, env)
    try:
        produce(env, failures)
        wait_for(lambda: webhook.accepted(), 60, "the down notification")
    finally:
        alert_code, _, alert_err = stop(alert)
    assert alert_code == 0, alert_err
    (down,) = webhook.accepted()
    body = down.json
    assert body["kind"] == "down" and body["url"] == closed
    assert body["incident"]["cause"].startswith(
        "tcp probe, connect: could not connect to 127.0.0.1:"
    )
    assert body["text"].startswith(f"DOWN {target}: tcp probe, connect: could not connect")
    ((cause,),) = query(env, "SELECT cause FROM incidents WHERE target = %s", target)
    assert cause == body["incident"]["cause"]


def metric(port: int, name: str, channel: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    match = re.search(rf'^{name}\{{channel="{channel}"\}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_sigkill_mid_streak_mid_delivery_and_mid_incident_loses_and_repeats_nothing(
    tmp_path: Path,
    isolated_env: dict[str, str],
    flip_site: FlipSite,
    webhook: WebhookReceiver,
) -> None:
    env = alert_env(isolated_env)
    target = f"api-{uuid.uuid4().hex[:8]}"
    config = write_config(
        tmp_path / "targets.yaml",
        target,
        flip_site.url,
        f"""alerts:
  defaults: {{failure_threshold: 3, success_threshold: 2, reminder_interval: off}}
  notifiers:
    hook: {{type: webhook, url: "{webhook.url}/hook", secret_env: HOOK_SECRET}}
  delivery: {{retry_initial: 200ms, retry_max: 500ms}}
""",
    )
    instance = ["--instance", f"alert-{uuid.uuid4().hex[:8]}"]
    port = free_port()
    webhook.status = 500  # the receiver refuses at first
    alert = start_alert(config, env, *instance, "--metrics-port", str(port))
    monitor = start_monitor(config, env, "loc-a")
    try:
        wait_for(lambda: (target_state(env, target) or {}).get("status") == "up", 60, "target up")

        # 1. Killed mid-streak: one failure counted, the next check held at the site.
        def counted() -> int:
            state = target_state(env, target) or {}
            return int(state.get("locations", {}).get("loc-a", {}).get("failures", 0))

        flip_site.hold_after = 1
        flip_site.set(500)
        wait_for(lambda: counted() >= 1, 30, "a failure counted")
        assert counted() == 1 and incidents(env, target) == []
        logs = [kill(alert)]
        flip_site.release.set()

        # 2. Killed while the DOWN notification is being refused and retried.
        alert = start_alert(config, env, *instance, "--metrics-port", str(port))
        wait_for(
            lambda: any(r[1] == "down" and r[4] >= 2 for r in outbox(env)),
            30,
            "the DOWN refused twice",
        )
        assert metric(port, "wac_alert_delivery_failures_total", "hook") >= 2
        assert webhook.accepted() == []
        logs.append(kill(alert))
        assert (
            "delivery of down of " + target + " via hook failed (attempt 1): HTTP 500" in logs[-1]
        )

        # 3. The receiver accepts again; killed after the DOWN was delivered.
        webhook.status = 200
        alert = start_alert(config, env, *instance)
        wait_for(lambda: webhook.accepted(), 30, "DOWN delivered after restart")
        wait_for(lambda: all_delivered(env), 30, "outbox delivered")
        logs.append(kill(alert))
        served = flip_site.count()
        wait_for(lambda: flip_site.count() >= served + 3, 20, "checks while wac alert is down")

        # 4. Back once more: the recovery is announced once.
        alert = start_alert(config, env, *instance)
        flip_site.set(200)
        wait_for(lambda: len(webhook.accepted()) >= 2, 30, "UP delivered")
        wait_caught_up(env)
        wait_for(lambda: all_delivered(env), 30, "outbox delivered")
    finally:
        stop(monitor)
        alert_code, _, alert_err = stop(alert)
    assert alert_code == 0, alert_err
    assert not any(SECRET in log for log in [*logs, alert_err])

    accepted = webhook.accepted()
    assert kinds(accepted) == ["down", "up"]
    down, up = accepted
    refused = [d for d in webhook.all() if not d.accepted]
    assert len(refused) >= 2
    assert {d.headers["Idempotency-Key"] for d in refused} == {down.headers["Idempotency-Key"]}
    results = results_of(env, target)
    down_at, up_at = confirmation_times(results, 3, 2)
    assert at(down.json) == down_at  # the counter survived the kill: no miss, no double count
    assert at(up.json) == up_at
    (incident,) = incidents(env, target)
    assert incident[2] is not None
    events = [e for e in events_of(env) if e["target"] == target]
    assert [e["type"] for e in events] == ["incident_opened", "incident_resolved"]


# --- the outbox on its own: retries do not hold up other targets -----------------------------
class FlakyNotifier:
    name = "hook"

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.sent: list[tuple[str, str]] = []
        self.attempts: list[str] = []
        self.lock = threading.Lock()

    def describe(self) -> str:
        return "test notifier"

    def send(self, notification: Notification) -> None:
        with self.lock:
            self.attempts.append(notification.target)
            if notification.target in self.failing:
                raise DeliveryError("receiver said no")
            self.sent.append((notification.target, notification.kind))


def test_a_failing_delivery_is_retried_without_holding_up_other_targets(
    services_env: dict[str, str],
) -> None:
    group = f"deliver-{uuid.uuid4().hex[:8]}"
    notifier = FlakyNotifier()
    notifier.failing.add("x")

    def row(target: str, kind: str) -> OutboxRow:
        key = f"test:{group}:{target}:{kind}"
        body = Notification(
            id=key_id(key),
            kind=kind,  # type: ignore[arg-type]
            target=target,
            url="https://x.example/",
            at=datetime.now(UTC),
            text=f"{kind} {target}",
        )
        return OutboxRow(key, "hook", target, None, kind, 0, encoder.encode(body))

    with psycopg.connect(services_env["POSTGRES_ENDPOINT"]) as conn, conn.transaction():
        AlertDB(conn, group).enqueue([row("x", "down"), row("x", "up"), row("y", "down")])
    deliverer = Deliverer(
        services_env["POSTGRES_ENDPOINT"],
        group,
        {"hook": notifier},
        None,
        Delivery(retry_initial=0.1, retry_max=0.2, workers=2),
    )
    deliverer.start()
    try:
        wait_for(lambda: ("y", "down") in notifier.sent, 10, "y delivered")
        wait_for(lambda: notifier.attempts.count("x") >= 3, 10, "x retried")
        assert all(target == "y" for target, _ in notifier.sent)  # x's UP waits for its DOWN
        notifier.failing.clear()
        wait_for(lambda: len(notifier.sent) == 3, 10, "x delivered")
    finally:
        deliverer.stop()
    assert notifier.sent == [("y", "down"), ("x", "down"), ("x", "up")]
    rows = query(
        services_env,
        "SELECT target, kind, status, attempts, last_error FROM alert_outbox"
        " WHERE consumer_group = %s ORDER BY id",
        group,
    )
    assert [(t, k, s) for t, k, s, _, _ in rows] == [
        ("x", "down", "sent"),
        ("x", "up", "sent"),
        ("y", "down", "sent"),
    ]
    assert rows[0][3] >= 4 and rows[0][4] is None  # retried, then delivered


def test_a_delivery_failing_past_give_up_after_is_abandoned_and_counted(
    services_env: dict[str, str],
) -> None:
    from wac.alerts import metrics

    group = f"giveup-{uuid.uuid4().hex[:8]}"
    notifier = FlakyNotifier()
    notifier.failing.add("z")
    key = f"test:{group}:z:down"
    body = Notification(
        id=key_id(key), kind="down", target="z", url="https://z/", at=datetime.now(UTC), text="z"
    )
    with psycopg.connect(services_env["POSTGRES_ENDPOINT"]) as conn, conn.transaction():
        AlertDB(conn, group).enqueue(
            [OutboxRow(key, "hook", "z", None, "down", 0, encoder.encode(body))]
        )
    before = metrics.GAVE_UP.labels("hook")._value.get()
    deliverer = Deliverer(
        services_env["POSTGRES_ENDPOINT"],
        group,
        {"hook": notifier},
        None,
        Delivery(retry_initial=0.1, retry_max=0.1, give_up_after=0.5, workers=1),
    )
    deliverer.start()
    try:
        wait_for(
            lambda: (
                query(
                    services_env,
                    "SELECT status FROM alert_outbox WHERE consumer_group = %s",
                    group,
                )
                == [("failed",)]
            ),
            15,
            "the row given up",
        )
    finally:
        deliverer.stop()
    attempts = len(notifier.attempts)
    assert attempts >= 2 and notifier.sent == []
    assert metrics.GAVE_UP.labels("hook")._value.get() == before + 1
    ((last_error, tries),) = query(
        services_env,
        "SELECT last_error, attempts FROM alert_outbox WHERE consumer_group = %s",
        group,
    )
    assert last_error == "receiver said no" and tries == attempts
