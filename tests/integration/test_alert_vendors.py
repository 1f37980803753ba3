"""The vendor notifiers through the real pipeline, and the outbox's handling of refusals.

End to end: a local site that goes down and comes back → a real `wac monitor` → the
local Kafka → `wac alert` → eight local vendor receivers (PagerDuty, Opsgenie, Teams,
Discord, Telegram, ntfy, Pushover, Google Chat) that check every request against the
vendor's documented shape. Run with `-s` to see what each receiver got.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
import yaml

from tests.integration.test_alerts import (
    FlipSite,
    all_delivered,
    group_of,
    incidents,
    query,
    serve_flip_site,
    start_alert,
    start_monitor,
    target_state,
    wait_caught_up,
    write_config,
)
from tests.support.processes import stop, wait_for
from tests.support.vendor_receivers import PREFIXES, VendorReceivers, vendor_receivers
from tests.unit.test_alert_notifiers import notification
from wac.alerts import metrics
from wac.alerts.config import Delivery
from wac.alerts.db import AlertDB, OutboxRow
from wac.alerts.messages import Notification, encoder, key_id
from wac.alerts.notifiers import DeliveryError, build
from wac.alerts.outbox import Deliverer

pytestmark = pytest.mark.integration


@pytest.fixture
def receivers() -> Iterator[VendorReceivers]:
    with vendor_receivers() as running:
        yield running


@pytest.fixture
def flip_site() -> Iterator[FlipSite]:
    yield from serve_flip_site()


def outbox_rows(env: dict[str, str], group: str) -> list[tuple[Any, ...]]:
    return query(
        env,
        "SELECT channel, kind, status, attempts, last_error FROM alert_outbox"
        " WHERE consumer_group = %s ORDER BY id",
        group,
    )


def enqueue(env: dict[str, str], group: str, channel: str, *kinds: str) -> None:
    rows = []
    for kind in kinds:
        key = f"test:{group}:{kind}"
        body = msgspec.structs.replace(notification(kind), id=key_id(key))
        rows.append(OutboxRow(key, channel, "shop", None, kind, 0, encoder.encode(body)))
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn, conn.transaction():
        AlertDB(conn, group).enqueue(rows)


# --- the outbox and the vendors' refusals ----------------------------------------------
class RefusingNotifier:
    """Refuses the DOWN for good (a 4xx), accepts the rest."""

    name = "pager"

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def describe(self) -> str:
        return "test notifier"

    def send(self, sent: Notification) -> None:
        self.attempts.append(sent.kind)
        if sent.kind == "down":
            raise DeliveryError("HTTP 400 from pager.test: bad payload", permanent=True)


def test_a_permanent_refusal_is_given_up_at_once_and_the_recovery_still_goes(
    services_env: dict[str, str],
) -> None:
    group = f"permanent-{uuid.uuid4().hex[:8]}"
    enqueue(services_env, group, "pager", "down", "up")
    notifier = RefusingNotifier()
    before = metrics.GAVE_UP.labels("pager")._value.get()
    deliverer = Deliverer(
        services_env["POSTGRES_ENDPOINT"],
        group,
        {"pager": notifier},
        None,
        Delivery(retry_initial=0.1, retry_max=0.2, workers=1),
    )
    deliverer.start()
    try:
        wait_for(
            lambda: [r[2] for r in outbox_rows(services_env, group)] == ["failed", "sent"],
            15,
            "the DOWN given up and the UP delivered",
        )
    finally:
        deliverer.stop()
    assert notifier.attempts == ["down", "up"]  # a failed row is never claimed again
    (down, up) = outbox_rows(services_env, group)
    assert down[2:] == ("failed", 1, "HTTP 400 from pager.test: bad payload")
    assert up[2:4] == ("sent", 1)
    assert metrics.GAVE_UP.labels("pager")._value.get() == before + 1


def test_a_rate_limit_is_retried_no_sooner_than_the_vendor_asks(
    services_env: dict[str, str], receivers: VendorReceivers
) -> None:
    group = f"ratelimit-{uuid.uuid4().hex[:8]}"
    receivers.retry_after_s = 2
    receivers.fail_next["telegram"] = [429]
    enqueue(services_env, group, "telegram", "down")
    telegram = build("telegram", receivers.specs()["telegram"], receivers.env(), "t")
    deliverer = Deliverer(
        services_env["POSTGRES_ENDPOINT"],
        group,
        {"telegram": telegram},
        None,
        Delivery(retry_initial=0.1, retry_max=0.2, workers=1),
    )
    deliverer.start()
    try:
        wait_for(lambda: receivers.received("telegram"), 15, "the message after the 429")
    finally:
        deliverer.stop()
    limited, delivered = receivers.received("telegram", accepted_only=False)
    assert limited.status == 429 and delivered.accepted
    assert delivered.at - limited.at >= 1.9  # Retry-After: 2, though the backoff was 0.1 s
    ((_, _, status, attempts, last_error),) = outbox_rows(services_env, group)
    assert (status, attempts, last_error) == ("sent", 2, None)


# --- end to end ----------------------------------------------------------------------------
def test_down_then_up_reaches_all_eight_vendors_once_each_and_matched(
    tmp_path: Path,
    isolated_env: dict[str, str],
    flip_site: FlipSite,
    receivers: VendorReceivers,
) -> None:
    env = {**isolated_env, **receivers.env()}
    target = f"shop-{uuid.uuid4().hex[:8]}"
    alerts = {
        "alerts": {
            "defaults": {"failure_threshold": 2, "success_threshold": 2,
                         "reminder_interval": "off"},
            "notifiers": receivers.specs(),
            "delivery": {"retry_initial": "200ms", "retry_max": "1s"},
        }
    }  # fmt: skip
    config = write_config(tmp_path / "targets.yaml", target, flip_site.url, yaml.safe_dump(alerts))
    # Transient trouble on two of them: both must still get each message exactly once.
    receivers.fail_next["pagerduty"] = [503]
    receivers.fail_next["discord"] = [429]
    alert = start_alert(config, env)
    monitor = start_monitor(config, env, "loc-a")
    try:
        wait_for(lambda: (target_state(env, target) or {}).get("status") == "up", 60, "target up")
        flip_site.set(500)
        wait_for(lambda: all(receivers.received(v) for v in PREFIXES), 60, "DOWN at every vendor")
        flip_site.set(200)
        wait_for(
            lambda: all(len(receivers.received(v)) == 2 for v in PREFIXES),
            60,
            "UP at every vendor",
        )
        wait_caught_up(env)
        wait_for(lambda: all_delivered(env), 30, "every notification delivered")
    finally:
        monitor_code, _, monitor_err = stop(monitor)
        alert_code, _, alert_err = stop(alert)
    assert alert_code == 0, alert_err
    assert monitor_code == 0, monitor_err

    ((incident_id, started, ended, cause, _),) = incidents(env, target)
    assert ended is not None and "500" in cause
    key = f"wac-incident-{incident_id}"
    print(f"\nincident {incident_id} of {target}: {started:%H:%M:%S.%f} to {ended:%H:%M:%S.%f}")
    for vendor in PREFIXES:
        print(f"{vendor}: {dict(receivers.counts(vendor))}")
        for line in receivers.report(vendor):
            print(f"    {line}")

    assert receivers.problems() == []
    summaries = {v: [r.summary for r in receivers.received(v)] for v in PREFIXES}
    assert [(s["action"], s["key"]) for s in summaries["pagerduty"]] == [
        ("trigger", key),
        ("resolve", key),
    ]
    assert [(s["action"], s["key"]) for s in summaries["opsgenie"]] == [
        ("create", key),
        ("close", key),
    ]
    for vendor in PREFIXES:
        if vendor not in ("pagerduty", "opsgenie"):
            assert [(s["kind"], s["incident"]) for s in summaries[vendor]] == [
                ("DOWN", incident_id),
                ("UP", incident_id),
            ], vendor
        assert receivers.open.get(vendor, {}) == {}, vendor  # nothing left open
        # One delivery per outbox row: the same idempotency key never accepted twice.
        keys = [r.request.headers["idempotency-key"] for r in receivers.received(vendor)]
        assert len(set(keys)) == 2, vendor
    assert summaries["google_chat"][0]["thread_key"] == summaries["google_chat"][1]["thread_key"]
    # The two failures were retried, and the retry of the 429 waited for Retry-After.
    refused = {
        v: [r.status for r in receivers.received(v, accepted_only=False) if not r.accepted]
        for v in PREFIXES
    }
    assert refused == {v: ([503] if v == "pagerduty" else [429] if v == "discord" else [])
                       for v in PREFIXES}  # fmt: skip
    limited, retried = receivers.received("discord", accepted_only=False)[:2]
    assert retried.at - limited.at >= receivers.retry_after_s - 0.1

    rows = outbox_rows(env, group_of(env))
    assert sorted((r[0], r[1], r[2]) for r in rows if r[0] in PREFIXES) == sorted(
        (v, kind, "sent") for v in PREFIXES for kind in ("down", "up")
    )
    errors = " ".join(str(r[4]) for r in rows)
    for secret in receivers.creds.all():
        assert secret not in alert_err and secret not in errors
    assert "notifier telegram: telegram bot via 127.0.0.1" in alert_err
    assert f"delivery of down of {target} via discord failed (attempt 1): HTTP 429" in alert_err
