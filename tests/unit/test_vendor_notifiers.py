"""The eight vendor notifiers against local receivers that check the documented shapes.

PagerDuty, Opsgenie, Microsoft Teams, Discord, Telegram, ntfy, Pushover and Google Chat:
each receiver (`tests/support/vendor_receivers.py`) refuses a request the vendor would
refuse, with the vendor's own error body, and records what it accepted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.servers import free_port
from tests.support.vendor_receivers import PREFIXES, VendorReceivers, vendor_receivers
from tests.support.vendor_shapes import CHECKS, Request, telegram_shown_text
from tests.unit.test_alert_notifiers import notification
from wac.alerts.messages import (
    CertificateInfo,
    IncidentInfo,
    Kind,
    Notification,
    key_id,
    render_text,
)
from wac.alerts.notifiers import DeliveryError, Notifier, build
from wac.alerts.notifiers.http import HttpClient, error_detail, retry_after
from wac.errors import ConfigError

VENDORS = list(PREFIXES)
PAGERS = ("pagerduty", "opsgenie")
CHATS = [v for v in VENDORS if v not in PAGERS]


@pytest.fixture
def receivers() -> Iterator[VendorReceivers]:
    with vendor_receivers() as running:
        yield running


def notifier(receivers: VendorReceivers, vendor: str, **changes: Any) -> Notifier:
    spec = {**receivers.specs()[vendor], **changes}
    return build(vendor, spec, receivers.env(), f"t.yaml: alerts.notifiers.{vendor}")


def certificate_notification(target: str = "shop") -> Notification:
    expires = dt.datetime(2025, 6, 8, 12, 0, tzinfo=dt.UTC)
    info = CertificateInfo(expires_at=expires, days_left=6.9, threshold_days=7)
    at = dt.datetime(2025, 6, 1, 14, 0, tzinfo=dt.UTC)
    return Notification(
        id=key_id(f"certificate:{target}:{expires.isoformat()}:7"),
        kind="certificate",
        target=target,
        url=f"https://{target}.example/",
        at=at,
        text=render_text("certificate", target, at, None, certificate=info),
        certificate=info,
    )


def as_request(receivers: VendorReceivers, vendor: str, outgoing: Any) -> Request:
    """What a receiver would see of a request, without sending it."""
    parts = urlsplit(outgoing.url)
    headers = {"content-type": outgoing.content_type, "idempotency-key": "x"}
    headers.update({k.lower(): v for k, v in outgoing.headers.items()})
    return Request(
        "POST",
        parts.path[len(PREFIXES[vendor]) :],
        parse_qs(parts.query),
        headers,
        outgoing.body,
    )


# --- down, reminder, up: one trigger, one matching recovery ------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_down_reminder_up_reach_the_vendor_in_its_shape_and_match(
    receivers: VendorReceivers, vendor: str
) -> None:
    sender = notifier(receivers, vendor)
    for kind in ("down", "reminder", "up"):
        sender.send(notification(kind))
    got = receivers.received(vendor, accepted_only=False)
    assert receivers.problems() == []
    assert all(r.accepted for r in got)
    summaries = [r.summary for r in got]
    if vendor == "pagerduty":
        # Reminders send nothing: PagerDuty re-notifies by itself.
        assert [(s["action"], s["key"]) for s in summaries] == [
            ("trigger", "wac-incident-7"),
            ("resolve", "wac-incident-7"),
        ]
        assert summaries[0]["severity"] == "critical" and summaries[0]["kind"] == "DOWN"
    elif vendor == "opsgenie":
        assert [(s["action"], s["key"]) for s in summaries] == [
            ("create", "wac-incident-7"),
            ("close", "wac-incident-7"),
        ]
        assert summaries[0]["priority"] == "P1" and summaries[1]["identifier_type"] == "alias"
    else:
        assert [(s["kind"], s["incident"]) for s in summaries] == [
            ("DOWN", 7),
            ("STILL DOWN", 7),
            ("UP", 7),
        ]
        assert [s["title"] for s in summaries] == ["DOWN shop", "STILL DOWN shop", "UP shop"]
    sent = ["down", "up"] if vendor in PAGERS else ["down", "reminder", "up"]
    assert [r.request.headers["idempotency-key"] for r in got] == [
        notification(kind).id for kind in sent
    ]
    assert receivers.open.get(vendor, {}) == {}  # every trigger recovered


def test_pagerduty_trigger_carries_what_a_responder_needs(receivers: VendorReceivers) -> None:
    sender = notifier(receivers, "pagerduty", severity="error", key_prefix="shop-prod-",
                      client_url="https://status.example/")  # fmt: skip
    sender.send(notification("down"))
    sender.send(notification("up"))
    trigger, resolve = (r.request.body for r in receivers.received("pagerduty"))
    import json

    event = json.loads(trigger)
    assert event["routing_key"] == receivers.creds.pagerduty_routing_key
    assert event["dedup_key"] == "shop-prod-incident-7"
    payload = event["payload"]
    assert payload["severity"] == "error" and payload["source"] == "shop.example"
    assert payload["component"] == "shop" and payload["class"] == "availability"
    assert payload["timestamp"] == "2025-06-01T12:00:30+00:00"
    assert payload["custom_details"]["Incident"] == "7"
    assert payload["custom_details"]["Locations"] == "eu, us"
    assert event["links"] == [{"href": "https://shop.example/", "text": "Checked URL"}]
    assert event["client"] == "wac" and event["client_url"] == "https://status.example/"
    assert json.loads(resolve) == {
        "routing_key": receivers.creds.pagerduty_routing_key,
        "dedup_key": "shop-prod-incident-7",
        "event_action": "resolve",
    }


def test_opsgenie_authenticates_and_closes_by_alias(receivers: VendorReceivers) -> None:
    import json

    sender = notifier(receivers, "opsgenie", priority="P2")
    sender.send(notification("down"))
    sender.send(notification("up"))
    create, close = receivers.received("opsgenie")
    assert create.request.headers["authorization"] == (
        f"GenieKey {receivers.creds.opsgenie_api_key}"
    )
    body = json.loads(create.request.body)
    assert body["alias"] == "wac-incident-7" and body["priority"] == "P2"
    assert body["tags"] == ["wac", "web"] and body["entity"] == "shop"
    assert body["responders"] == [{"type": "team", "name": "ops"}]
    assert body["details"]["Cause"] == "status: HTTP status 500"
    assert len(body["message"]) <= 130
    assert close.request.path == "/v2/alerts/wac-incident-7/close"
    assert close.request.query == {"identifierType": ["alias"]}
    assert json.loads(close.request.body)["source"] == "wac"


def test_chat_messages_look_like_their_kind(receivers: VendorReceivers) -> None:
    import json

    for vendor in CHATS:
        sender = notifier(receivers, vendor)
        sender.send(notification("down"))
        sender.send(notification("up"))
    teams_down, teams_up = (json.loads(r.request.body) for r in receivers.received("teams"))
    card = teams_down["attachments"][0]["content"]
    assert card["version"] == "1.2" and card["body"][0]["style"] == "attention"
    assert teams_up["attachments"][0]["content"]["body"][0]["style"] == "good"
    discord_down, discord_up = receivers.received("discord")
    assert discord_down.request.query == {"wait": ["true"]} and discord_down.status == 200
    embed = json.loads(discord_down.request.body)["embeds"][0]
    assert embed["color"] == 0xD32F2F and embed["url"] == "https://shop.example/"
    assert json.loads(discord_up.request.body)["embeds"][0]["color"] == 0x2E7D32
    assert json.loads(discord_down.request.body)["allowed_mentions"] == {"parse": []}
    telegram_down = json.loads(receivers.received("telegram")[0].request.body)
    assert telegram_down["chat_id"] == receivers.creds.telegram_chat_id
    assert telegram_down["parse_mode"] == "HTML"
    assert telegram_down["text"].startswith("<b>DOWN shop</b>\nDOWN shop: status: HTTP status 500")
    ntfy_down, ntfy_up = (r.summary for r in receivers.received("ntfy"))
    assert (ntfy_down["priority"], ntfy_up["priority"]) == (5, 3)
    assert ntfy_down["tags"] == ["rotating_light", "wac", "incident-7"]
    assert ntfy_up["tags"] == ["white_check_mark", "wac", "incident-7"]
    assert ntfy_down["topic"] == receivers.creds.ntfy_topic
    assert receivers.received("ntfy")[0].request.headers["authorization"] == (
        f"Bearer {receivers.creds.ntfy_token}"
    )
    pushover_down, pushover_up = (
        parse_qs(r.request.body.decode()) for r in receivers.received("pushover")
    )
    assert (pushover_down["priority"], pushover_up["priority"]) == (["1"], ["0"])
    assert pushover_down["timestamp"] == [str(int(notification("down").at.timestamp()))]
    assert pushover_down["url"] == ["https://shop.example/"]
    chat_down, chat_up = (r.summary for r in receivers.received("google_chat"))
    assert chat_down["thread_key"] == chat_up["thread_key"] == "wac-incident-7"
    assert chat_down["reply_option"] == "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
    assert receivers.problems() == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_certificate_warning_in_the_vendor_shape(receivers: VendorReceivers, vendor: str) -> None:
    notifier(receivers, vendor).send(certificate_notification())
    (got,) = receivers.received(vendor, accepted_only=False)
    assert got.accepted and receivers.problems() == []
    if vendor == "pagerduty":
        assert got.summary["severity"] == "warning"
        assert got.summary["key"] == "wac-certificate-shop-20250608"
    elif vendor == "opsgenie":
        assert got.summary["priority"] == "P3"
        assert got.summary["key"] == "wac-certificate-shop-20250608"
    else:
        assert got.summary["kind"] == "CERTIFICATE"


# --- failures: retried or given up, never showing a secret -------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_refusals_are_retried_or_permanent_and_name_no_secret(
    receivers: VendorReceivers, vendor: str
) -> None:
    sender = notifier(receivers, vendor)
    secrets = receivers.creds.all()
    receivers.fail_next[vendor] = [503, 429, 400]
    outcomes = []
    for _ in range(3):
        with pytest.raises(DeliveryError) as caught:
            sender.send(notification("down"))
        outcomes.append(caught.value)
    unavailable, limited, refused = outcomes
    host = receivers.base_url.removeprefix("http://")
    assert str(unavailable).startswith(f"HTTP 503 from {host}")
    assert not unavailable.permanent and unavailable.retry_after is None
    assert str(limited).startswith(f"HTTP 429 from {host}")
    assert not limited.permanent and limited.retry_after == receivers.retry_after_s
    assert str(refused).startswith(f"HTTP 400 from {host}: ") and "injected failure" in str(refused)
    assert refused.permanent
    sender.send(notification("down"))  # and then it goes through
    assert len(receivers.received(vendor)) == 1
    for error in outcomes:
        assert not any(secret in str(error) for secret in secrets)
    assert not any(secret in sender.describe() for secret in secrets)


@pytest.mark.parametrize(
    ("vendor", "variable", "wrong"),
    [
        ("pagerduty", "PD_ROUTING_KEY", "0" * 32),
        ("opsgenie", "OPSGENIE_API_KEY", "11111111-2222-3333-4444-555555555555"),
        ("telegram", "TELEGRAM_BOT_TOKEN", "42:wrong-token-for-the-test-receiver"),
        ("ntfy", "NTFY_TOKEN", "tk_wrongtokenforthetestreceiver"),
        ("pushover", "PUSHOVER_TOKEN", "w" * 30),
    ],
)
def test_a_wrong_credential_is_a_permanent_refusal_without_the_credential(
    receivers: VendorReceivers, vendor: str, variable: str, wrong: str
) -> None:
    env = {**receivers.env(), variable: wrong}
    sender = build(vendor, receivers.specs()[vendor], env, "t")
    with pytest.raises(DeliveryError) as caught:
        sender.send(notification("down"))
    assert caught.value.permanent and "credential refused" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in sender.describe()


@pytest.mark.parametrize("vendor", ["teams", "discord", "google_chat"])
def test_webhook_urls_stay_out_of_errors_and_descriptions(
    receivers: VendorReceivers, vendor: str
) -> None:
    variable = {"teams": "TEAMS_WORKFLOW_URL", "discord": "DISCORD_WEBHOOK_URL",
                "google_chat": "GOOGLE_CHAT_WEBHOOK_URL"}[vendor]  # fmt: skip
    url = receivers.env()[variable]
    closed = url.replace(receivers.base_url, f"http://127.0.0.1:{free_port()}")
    sender = build(vendor, receivers.specs()[vendor], {variable: closed}, "t")
    with pytest.raises(DeliveryError) as caught:
        sender.send(notification("down"))
    message = str(caught.value)
    assert message.startswith("cannot reach 127.0.0.1:") and not caught.value.permanent
    path_and_query = urlsplit(closed).path
    for text in (message, sender.describe()):
        assert path_and_query not in text and "sig=" not in text and "token" not in text


def test_error_details_are_redacted() -> None:
    client = HttpClient(1.0, None, ["s3cr3t-value", "s3cr3t"])
    assert client.redact("bad key s3cr3t-value and s3cr3t") == "bad key *** and ***"


# --- settings that are wrong ---------------------------------------------------------------
R = "r" * 32
BAD_SETTINGS = [
    ({"type": "pagerduty", "routing_key": R}, {},
     "put the PagerDuty routing key in the environment and name it in routing_key_env"),
    ({"type": "pagerduty"}, {}, "routing_key_env is required"),
    ({"type": "pagerduty", "routing_key_env": "K"}, {},
     "routing_key_env names the environment variable K, which is not set"),
    ({"type": "pagerduty", "routing_key_env": "K"}, {"K": "short"},
     "the routing key in K has 5 characters, not 32"),
    ({"type": "pagerduty", "routing_key_env": "K", "severity": "high"}, {"K": R},
     "severity must be one of critical, error, warning, info, got 'high'"),
    ({"type": "pagerduty", "routing_key_env": "K", "api_url": "http://pd.example.com"},
     {"K": R}, "api_url is plain http:// to pd.example.com"),
    ({"type": "pagerduty", "routing_key_env": "K", "api_url": "events.pagerduty.com"},
     {"K": R}, "api_url must be an absolute http:// or https:// URL"),
    ({"type": "pagerduty", "routing_key_env": "K", "key_prefix": "has space"}, {"K": R},
     "key_prefix must be 1 to 64 letters"),
    ({"type": "pagerduty", "routing_key_env": "K", "severty": "info"}, {"K": R},
     "unknown key 'severty'"),
    ({"type": "opsgenie", "api_key": "k"}, {}, "name it in api_key_env"),
    ({"type": "opsgenie", "api_key_env": "K", "priority": "P0"}, {"K": "k"},
     "priority must be one of P1, P2, P3, P4, P5"),
    ({"type": "opsgenie", "api_key_env": "K", "responders": [{"type": "team"}]}, {"K": "k"},
     "responders must be a list of"),
    ({"type": "opsgenie", "api_key_env": "K", "tags": ["x" * 51]}, {"K": "k"},
     "tags must be a list of at most 19 strings of at most 50 characters"),
    ({"type": "teams", "url": "https://x.logic.azure.com/workflows/1?sig=s"}, {},
     "the Teams workflow URL carries its token"),
    ({"type": "teams"}, {}, "url_env is required"),
    ({"type": "teams", "url_env": "U"}, {"U": "not a url"},
     "the URL in url_env must be an absolute http:// or https:// URL"),
    ({"type": "discord", "url": "https://discord.com/api/webhooks/1/t"}, {},
     "the Discord webhook URL carries its token"),
    ({"type": "discord", "url_env": "U", "username": "Discord bot"},
     {"U": "https://discord.com/api/webhooks/1/t"}, "username must not contain 'discord'"),
    ({"type": "discord", "url_env": "U"}, {"U": "http://discord.example.com/api/webhooks/1/t"},
     "the URL in url_env is plain http:// to discord.example.com"),
    ({"type": "telegram", "bot_token_env": "T", "chat_id": 1}, {"T": "not-a-token"},
     "the value of T does not look like a bot token"),
    ({"type": "telegram", "bot_token_env": "T"}, {"T": "1:abc"}, "chat_id is required"),
    ({"type": "telegram", "bot_token_env": "T", "chat_id": "my group"}, {"T": "1:abc"},
     "chat_id must be a chat's number"),
    ({"type": "telegram", "bot_token": "1:abc", "chat_id": 1}, {}, "name it in bot_token_env"),
    ({"type": "ntfy"}, {}, "give the topic as topic or as topic_env"),
    ({"type": "ntfy", "topic": "a", "topic_env": "T"}, {"T": "b"},
     "give the topic as topic or as topic_env"),
    ({"type": "ntfy", "topic": "no/slash"}, {}, "topic must be 1 to 64 letters"),
    ({"type": "ntfy", "topic_env": "T"}, {"T": "no spaces"},
     "the topic in T must be 1 to 64 letters"),
    ({"type": "ntfy", "topic": "a", "priority": 9}, {}, "priority must be one of 1, 2, 3"),
    ({"type": "ntfy", "topic": "a", "token": "tk"}, {}, "name it in token_env"),
    ({"type": "ntfy", "topic": "a", "token_env": "T", "api_url": "http://ntfy.lan"},
     {"T": "tk_x"}, "api_url is plain http:// to ntfy.lan"),
    ({"type": "pushover", "token_env": "T", "user_key_env": "U"}, {"T": "x", "U": "u" * 30},
     "the value of T is not a Pushover key"),
    ({"type": "pushover", "token_env": "T", "user_key_env": "U", "priority": 2},
     {"T": "t" * 30, "U": "u" * 30}, "priority 2 (emergency) needs acknowledgements"),
    ({"type": "pushover", "token_env": "T", "user_key_env": "U", "priority": -3},
     {"T": "t" * 30, "U": "u" * 30}, "priority must be a whole number from -2 to 1"),
    ({"type": "pushover", "token_env": "T"}, {"T": "t" * 30}, "user_key_env is required"),
    ({"type": "google_chat", "url": "https://chat.googleapis.com/v1/spaces/A/messages"}, {},
     "the Google Chat webhook URL carries its token"),
    ({"type": "google_chat", "url_env": "U", "thread": "x"},
     {"U": "https://chat.googleapis.com/v1/spaces/A/messages?key=k&token=t"},
     "unknown key 'thread'"),
    ({"type": "pagerduty", "routing_key_env": "K", "timeout": "soon"}, {"K": R},
     "timeout 'soon' is not a duration"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "env", "expected"), BAD_SETTINGS)
def test_bad_settings_are_one_clear_line_without_the_secret(
    spec: dict[str, Any], env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build("x", spec, env, "t.yaml: alerts.notifiers.x")
    message = str(caught.value)
    assert message.startswith("t.yaml: alerts.notifiers.x: ")
    assert expected in message
    assert "\n" not in message
    for value in list(env.values()) + [v for k, v in spec.items() if k in ("url", "routing_key")]:
        if len(value) > 3:
            assert value not in message


def test_settings_defaults_point_at_the_vendors() -> None:
    from wac.alerts.notifiers.opsgenie import OpsgenieNotifier
    from wac.alerts.notifiers.pagerduty import PagerDutyNotifier
    from wac.alerts.notifiers.pushover import PushoverNotifier

    pd = build("p", {"type": "pagerduty", "routing_key_env": "K"}, {"K": R}, "t")
    assert isinstance(pd, PagerDutyNotifier)
    assert pd.url == "https://events.pagerduty.com/v2/enqueue" and pd.severity == "critical"
    og = build("o", {"type": "opsgenie", "api_key_env": "K", "api_url":
                     "https://api.eu.opsgenie.com/"}, {"K": "k"}, "t")  # fmt: skip
    assert isinstance(og, OpsgenieNotifier) and og.api_url == "https://api.eu.opsgenie.com"
    po = build("p", {"type": "pushover", "token_env": "T", "user_key_env": "U"},
               {"T": "t" * 30, "U": "u" * 30}, "t")  # fmt: skip
    assert isinstance(po, PushoverNotifier)
    assert po.url == "https://api.pushover.net/1/messages.json" and po.priority == 1
    tg = build("t", {"type": "telegram", "bot_token_env": "T", "chat_id": "@wac_alerts"},
               {"T": "123:abc"}, "t")  # fmt: skip
    assert tg.describe() == "telegram bot via api.telegram.org to chat @wac_alerts"
    ntfy = build("n", {"type": "ntfy", "topic": "wac-alerts"}, {}, "t")
    assert ntfy.describe() == "ntfy to ntfy.sh (without a token, priority 4)"
    # Plain http is fine for a loopback receiver, and for ntfy without a token.
    build("n", {"type": "ntfy", "topic": "a", "api_url": "http://ntfy.lan"}, {}, "t")


# --- properties: whatever a site says, every vendor accepts the request ----------------
printable = st.text(st.characters(exclude_categories=["Cs"]), max_size=3000)
names = st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=300).filter(
    str.strip
)


@st.composite
def notifications(draw: st.DrawFn) -> Notification:
    kind = draw(st.sampled_from(["down", "up", "reminder", "certificate"]))
    target = draw(names)
    url = draw(st.sampled_from(["https://shop.example/", "", "GET x", "https://a/" + "p" * 600]))
    started = dt.datetime(2025, 6, 1, tzinfo=dt.UTC) + dt.timedelta(
        seconds=draw(st.integers(0, 10**8))
    )
    at = started + dt.timedelta(seconds=draw(st.integers(0, 10**7)))
    if kind == "certificate":
        certificate = CertificateInfo(
            expires_at=at + dt.timedelta(days=3), days_left=3.0, threshold_days=7
        )
        return Notification(id=key_id(target), kind="certificate", target=target, url=url,
                            at=at, text=render_text("certificate", target, at, None,
                                                    certificate=certificate),
                            certificate=certificate)  # fmt: skip
    incident = IncidentInfo(
        id=draw(st.integers(1, 2**62)),
        started=started,
        ended=at if kind == "up" else None,
        cause=draw(printable),
        locations=draw(st.lists(names, max_size=5)),
    )
    reminder = draw(st.integers(1, 10**6)) if kind == "reminder" else None
    return Notification(
        id=key_id(target + kind),
        kind=kind,  # type: ignore[arg-type]
        target=target,
        url=url,
        at=at,
        text=render_text(kind, target, at, incident, reminder=reminder),  # type: ignore[arg-type]
        incident=incident,
        reminder=reminder,
    )


OFFLINE = VendorReceivers(base_url="http://127.0.0.1:9")
OFFLINE_NOTIFIERS = {
    vendor: build(vendor, spec, OFFLINE.env(), "t") for vendor, spec in OFFLINE.specs().items()
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notifications())
def test_every_vendor_accepts_what_wac_sends_whatever_the_text(sent: Notification) -> None:
    for vendor, sender in OFFLINE_NOTIFIERS.items():
        outgoing = sender.request(sent)  # type: ignore[attr-defined]
        if outgoing is None:
            assert vendor in PAGERS and sent.kind == "reminder"
            continue
        verdict = CHECKS[vendor](as_request(OFFLINE, vendor, outgoing), OFFLINE.creds)
        assert verdict.problems == [], (vendor, verdict.problems)
        assert not verdict.unauthorised
        if sent.incident is not None and vendor not in PAGERS:
            assert verdict.summary["incident"] == sent.incident.id, vendor


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000) | printable.map(str.encode))
def test_error_detail_of_any_answer_is_one_short_line(body: bytes) -> None:
    detail = error_detail(body)
    assert "\n" not in detail and "\r" not in detail and len(detail) <= 300


@settings(max_examples=300, deadline=None)
@given(st.none() | st.text(max_size=60), st.binary(max_size=200) | st.just(b'{"retry_after": 2}'))
def test_retry_after_of_any_answer_is_bounded(header: str | None, body: bytes) -> None:
    wait = retry_after(header, body)
    assert wait is None or 0 <= wait <= 3600


def test_retry_after_reads_the_vendors_forms() -> None:
    assert retry_after("7") == 7
    assert retry_after(None, b'{"retry_after": 0.25, "global": false}') == 0.25
    assert retry_after(None, b'{"ok": false, "parameters": {"retry_after": 12}}') == 12
    assert retry_after("99999") == 3600
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    from email.utils import format_datetime

    assert 25 < (retry_after(format_datetime(soon, usegmt=True)) or 0) <= 30
    assert retry_after("tomorrow") is None and retry_after("nan") is None


def test_error_detail_reads_the_vendors_forms() -> None:
    assert (
        error_detail(
            b'{"status":"invalid event","message":"Event object is invalid",'
            b'"errors":["\'payload.severity\' is invalid"]}'
        )
        == "Event object is invalid: 'payload.severity' is invalid"
    )
    assert (
        error_detail(b'{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}')
        == "Bad Request: chat not found"
    )
    assert (
        error_detail(
            b'{"message":"Invalid Form Body","code":50035,"errors":{"embeds":{"0":{"title":'
            b'{"_errors":[{"code":"BASE_TYPE_MAX_LENGTH","message":"Must be 256 or fewer"}]}}}}}'
        )
        == "Invalid Form Body: embeds.title: Must be 256 or fewer"
    )
    assert (
        error_detail(
            b'{"error":{"code":400,"message":"Invalid JSON payload","status":"INVALID_ARGUMENT"}}'
        )
        == "Invalid JSON payload"
    )
    assert error_detail(b'{"user":"invalid","errors":["user key is invalid"],"status":0}') == (
        "user key is invalid"
    )
    assert error_detail(b"no_service\n") == "no_service"
    assert error_detail(b"<html><body>Bad gateway</body></html>") == ""


def test_telegram_html_check_catches_what_telegram_refuses() -> None:
    assert telegram_shown_text("<b>DOWN</b> a &amp; b")[1] == []
    assert telegram_shown_text("<b>DOWN</b> a &amp; b")[0] == "DOWN a & b"
    assert telegram_shown_text("a < b")[1] != []
    assert telegram_shown_text("a & b")[1] != []
    assert telegram_shown_text("<div>x</div>")[1] != []
    assert telegram_shown_text("<b>x")[1] != []


def test_huge_texts_are_cut_to_every_vendors_limits() -> None:
    started = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    incident = IncidentInfo(
        id=9, started=started, cause="é<&>*" * 4000, locations=["loc-" + "x" * 900] * 9
    )
    target = "t" * 3000
    kinds: list[Kind] = ["down", "reminder", "up"]
    for kind in kinds:
        sent = Notification(
            id=key_id(kind),
            kind=kind,
            target=target,
            url="https://a.example/" + "p" * 3000,
            at=started,
            text=render_text(kind, target, started, incident, reminder=1),
            incident=incident,
            reminder=1 if kind == "reminder" else None,
        )
        for vendor, sender in OFFLINE_NOTIFIERS.items():
            outgoing = sender.request(sent)  # type: ignore[attr-defined]
            if outgoing is not None:
                verdict = CHECKS[vendor](as_request(OFFLINE, vendor, outgoing), OFFLINE.creds)
                assert verdict.problems == [], (vendor, kind, verdict.problems)


def test_wac_alert_checks_the_vendor_notifiers_at_start(tmp_path: Path) -> None:
    import os

    from tests.support.processes import wac

    offline = VendorReceivers(base_url="http://127.0.0.1:9")
    path = tmp_path / "targets.yaml"
    document: dict[str, Any] = {"targets": [{"url": "https://a.example/", "name": "a"}],
                                "alerts": {"notifiers": offline.specs()}}  # fmt: skip
    path.write_text(yaml.safe_dump(document))
    env = {**os.environ, **offline.env()}
    done = wac(["alert", "--config", str(path), "--check-config"], env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "configuration OK; notifiers: " in done.stdout
    assert all(vendor in done.stdout for vendor in PREFIXES)
    document["alerts"]["notifiers"] = {"pd": {"type": "pagerduty", "routing_key": R}}
    path.write_text(yaml.safe_dump(document))
    done = wac(["alert", "--config", str(path), "--check-config"], env, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"wac: error: {path}: alerts.notifiers.pd: put the PagerDuty routing key in the "
        "environment and name it in routing_key_env, not in the file as routing_key"
    ]
    assert R not in done.stderr and "Traceback" not in done.stderr


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
SETTING_KEYS = sorted(
    {key for spec in OFFLINE.specs().values() for key in spec if key != "type"}
    | {"url", "url_env", "routing_key", "severity", "key_prefix", "client_url", "priority",
       "tags", "responders", "chat_id", "message_thread_id", "topic", "sound", "device",
       "username", "avatar_url", "api_url", "timeout", "ca_file"}
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(VENDORS),
    st.dictionaries(st.sampled_from(SETTING_KEYS), yaml_values, max_size=6),
    st.booleans(),
)
def test_any_settings_are_accepted_or_one_config_error(
    vendor: str, changes: dict[str, Any], start_valid: bool
) -> None:
    spec = {**(OFFLINE.specs()[vendor] if start_valid else {"type": vendor}), **changes}
    spec["type"] = vendor
    env = {**OFFLINE.env(), "U": "https://x.example/hook", "T": "1:abc"}
    try:
        sender = build(vendor, spec, env, "t")
    except ConfigError as error:
        assert "\n" not in str(error)
        assert not any(secret in str(error) for secret in OFFLINE.creds.all())
    else:
        assert not any(secret in sender.describe() for secret in OFFLINE.creds.all())


def test_the_readme_example_of_every_notifier_is_valid() -> None:
    from wac.alerts.config import parse_alert_config

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### Notifiers for PagerDuty", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    env = {
        "WAC_PAGERDUTY_ROUTING_KEY": R,
        "WAC_OPSGENIE_API_KEY": "k",
        "WAC_TEAMS_WORKFLOW_URL": "https://prod-1.westus.logic.azure.com/workflows/1?sig=s",
        "WAC_DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/t",
        "WAC_TELEGRAM_BOT_TOKEN": "123:abc",
        "WAC_NTFY_TOPIC": "wac-alerts",
        "WAC_NTFY_TOKEN": "tk_x",
        "WAC_PUSHOVER_APP_TOKEN": "a" * 30,
        "WAC_PUSHOVER_USER_KEY": "u" * 30,
        "WAC_GOOGLE_CHAT_WEBHOOK_URL": "https://chat.googleapis.com/v1/spaces/A/messages?key=k",
    }
    config = parse_alert_config(yaml.safe_load(example), source="README.md", env=env)
    kinds = {name: type(n).__name__ for name, n in config.notifiers.items()}
    assert kinds == {
        "pager": "PagerDutyNotifier",
        "genie": "OpsgenieNotifier",
        "teams": "TeamsNotifier",
        "discord": "DiscordNotifier",
        "telegram": "TelegramNotifier",
        "phone": "NtfyNotifier",
        "push": "PushoverNotifier",
        "gchat": "GoogleChatNotifier",
    }
