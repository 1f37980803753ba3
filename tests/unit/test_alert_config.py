"""The `alerts:` section of the targets file, and maintenance windows."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from wac.alerts.config import AlertConfig, Rules, load_alert_config, parse_alert_config
from wac.alerts.maintenance import in_maintenance
from wac.alerts.notifiers.email import EmailNotifier
from wac.alerts.notifiers.slack import SlackNotifier
from wac.alerts.notifiers.webhook import WebhookNotifier
from wac.errors import ConfigError

ENV = {"HOOK_SECRET": "s3cret-hmac", "SLACK_URL": "https://hooks.slack.test/T0/B0/tok", "PW": "pw"}

FULL = """
targets:
  - url: https://shop.example/
    name: shop
  - url: https://blog.example/
    name: blog
alerts:
  defaults:
    failure_threshold: 4
    success_threshold: 3
    quorum: 2
    location_expiry: 5m
    reminder_interval: 30m
    cert_expiry_days: [7, 30]
    notify: [ops]
  targets:
    shop:
      failure_threshold: 2
      quorum: all
      reminder_interval: off
      notify: [ops, chat, mail]
    blog:
      notify: []
  notifiers:
    ops: {type: webhook, url: "https://hooks.example.com/wac", secret_env: HOOK_SECRET,
          headers: {X-Team: web}, timeout: 3s}
    chat: {type: slack, url_env: SLACK_URL}
    mail: {type: email, host: smtp.example.com, username: alerts, password_env: PW,
           from: alerts@example.com, to: [ops@example.com, dev@example.com]}
  maintenance:
    - name: migration
      targets: [shop]
      start: 2025-06-01T22:00:00Z
      end: 2025-06-01T23:30:00+00:00
    - weekly: {days: [sun, wed], start: "02:00", duration: 2h, timezone: Europe/Paris}
  delivery: {retry_initial: 200ms, retry_max: 10s, give_up_after: 1h, workers: 2}
  start_lookback: 5m
"""


def parse(text: str, env: dict[str, str] | None = None) -> AlertConfig:
    return parse_alert_config(yaml.safe_load(text), source="t.yaml", env=env or ENV)


def error(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text, env)
    return str(caught.value)


def test_full_example() -> None:
    config = parse(FULL)
    assert config.defaults == Rules(
        failure_threshold=4,
        success_threshold=3,
        quorum=2,
        location_expiry=300,
        reminder_interval=1800,
        cert_expiry_days=(30, 7),
        notify=("ops",),
    )
    shop = config.rules("shop")
    assert shop.failure_threshold == 2 and shop.success_threshold == 3  # defaults inherited
    assert shop.quorum == "all" and shop.reminder_interval is None
    assert config.notifiers_for("shop") == ["ops", "chat", "mail"]
    assert config.notifiers_for("blog") == []
    assert config.notifiers_for("GET https://elsewhere/") == ["ops"]
    assert isinstance(config.notifiers["ops"], WebhookNotifier)
    assert isinstance(config.notifiers["chat"], SlackNotifier)
    mail = config.notifiers["mail"]
    assert isinstance(mail, EmailNotifier)
    assert (mail.port, mail.security, mail.recipients) == (
        587,
        "starttls",
        ["ops@example.com", "dev@example.com"],
    )
    assert config.delivery.retry_initial == 0.2 and config.delivery.workers == 2
    assert config.delivery.backoff(1) == 0.2 and config.delivery.backoff(3) == 0.8
    assert config.delivery.backoff(20) == 10
    assert config.start_lookback == 300
    assert config.known_targets == {"shop", "blog"}
    # Secrets never show in a description.
    for notifier in config.notifiers.values():
        text = notifier.describe()
        assert "s3cret" not in text and "tok" not in text and "pw" not in text.split()


def test_defaults_without_alerts_section(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("targets:\n  - url: https://a.example/\n")
    config = load_alert_config(path, {})
    assert config.defaults == Rules()
    assert config.defaults.cert_expiry_days == (14, 7, 1)
    assert config.defaults.failure_threshold == 3 and config.defaults.success_threshold == 2
    assert config.notifiers == {} and config.notifiers_for("x") == []
    assert load_alert_config(None, {}) == AlertConfig()


def test_quorum_needed() -> None:
    assert [Rules(quorum="majority").needed(n) for n in (0, 1, 2, 3, 4, 5)] == [1, 1, 2, 2, 3, 3]
    assert [Rules(quorum="all").needed(n) for n in (1, 3)] == [1, 3]
    assert [Rules(quorum=2).needed(n) for n in (1, 2, 5)] == [1, 2, 2]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("alerts: {defaults: {failure_threshold: 0}}", "failure_threshold must be a whole number"),
        ("alerts: {defaults: {quorum: most}}", "quorum must be majority, all, or a number"),
        ("alerts: {defaults: {reminder_interval: soon}}", "reminder_interval 'soon' is not"),
        ("alerts: {defaults: {cert_expiry_days: [7, -1]}}", "cert_expiry_days must be whole"),
        ("alerts: {defaults: {bogus: 1}}", "alerts.defaults: unknown key 'bogus'"),
        ("alerts: {defaults: {notify: [nobody]}}", "notify names 'nobody'"),
        ("alerts: {targets: {shopp: {}}}", "alerts.targets.shopp: no target has the id 'shopp'"),
        ("alerts: {typo: 1}", "alerts: unknown key 'typo'"),
        ("alerts: {notifiers: {x: {type: pager}}}", "type must be one of webhook, slack, email"),
        (
            "alerts: {notifiers: {x: {type: webhook, url: 'ftp://a/'}}}",
            "url must be an absolute http:// or https:// URL",
        ),
        (
            "alerts: {notifiers: {x: {type: webhook, url: 'https://a/', secret: abc}}}",
            "put the secret in the environment",
        ),
        (
            "alerts: {notifiers: {x: {type: webhook, url: 'https://a/', secret_env: NOPE}}}",
            "environment variable NOPE, which is not set",
        ),
        (
            "alerts: {notifiers: {x: {type: email, host: h, from: a@b, to: c@d, password: p}}}",
            "put the password in the environment",
        ),
        (
            "alerts: {notifiers: {x: {type: email, host: h, from: a@b, to: nobody}}}",
            "to must be an address",
        ),
        (
            "alerts: {notifiers: {x: {type: email, host: h, from: a@b, to: c@d, security: none,"
            " username: u, password_env: PW}}}",
            "refusing to send a password without TLS",
        ),
        (
            "alerts: {notifiers: {x: {type: slack, url: 'https://a/', colour: red}}}",
            "unknown key 'colour'",
        ),
        ("alerts: {maintenance: [{start: 2025-01-01T00:00:00Z}]}", "needs start and end"),
        (
            "alerts: {maintenance: [{start: '2025-01-01T02:00:00', end: '2025-01-01T03:00:00Z'}]}",
            "has no time zone",
        ),
        (
            "alerts: {maintenance: [{start: 2025-01-02T00:00:00Z, end: 2025-01-01T00:00:00Z}]}",
            "end must be after start",
        ),
        (
            "alerts: {maintenance: [{weekly: {days: [funday], start: '02:00', duration: 1h}}]}",
            "'funday' is not a weekday",
        ),
        (
            "alerts: {maintenance: [{weekly: {days: [mon], start: '25:00', duration: 1h}}]}",
            "must be a time of day",
        ),
        (
            "alerts: {maintenance: [{weekly: {days: [mon], start: '01:00', duration: 1h,"
            " timezone: Mars/Olympus}}]}",
            "not a known zone",
        ),
        (
            "alerts: {maintenance: [{targets: [nope], weekly: {days: [mon], start: '01:00',"
            " duration: 1h}}]}",
            "no target has the id 'nope'",
        ),
        ("alerts: {delivery: {workers: 0}}", "workers must be a whole number"),
    ],
)
def test_mistakes_name_the_field(snippet: str, expected: str) -> None:
    text = "targets:\n  - {url: 'https://shop.example/', name: shop}\n" + snippet + "\n"
    assert expected in error(text)


def test_secret_values_never_appear_in_errors() -> None:
    message = error(
        "alerts: {notifiers: {x: {type: slack, url_env: SLACK_URL}, y: {type: webhook,"
        " url: 'https://a/', secret_env: HOOK_SECRET, headers: [bad]}}}",
        ENV,
    )
    assert "headers" in message
    assert ENV["HOOK_SECRET"] not in message and "tok" not in message
    bad_url = error("alerts: {notifiers: {x: {type: slack, url_env: BAD}}}", {"BAD": "secret-x"})
    assert "secret-x" not in bad_url


def test_targets_section_errors_are_reported_too() -> None:
    assert "interval" in error("targets:\n  - {url: 'https://a/', interval: -1}\n")


def test_one_off_and_weekly_windows() -> None:
    windows = parse(FULL).maintenance
    inside = datetime(2025, 6, 1, 22, 30, tzinfo=UTC)
    assert in_maintenance(windows, "shop", inside)
    assert not in_maintenance(windows, "blog", inside)  # the one-off is for shop only
    assert not in_maintenance(windows, "shop", datetime(2025, 6, 1, 23, 30, tzinfo=UTC))
    # Weekly: Sundays and Wednesdays 02:00-04:00 Paris time (UTC+2 in June) for everyone.
    sunday = datetime(2025, 6, 8, 0, 30, tzinfo=UTC)  # 02:30 in Paris
    assert in_maintenance(windows, "blog", sunday)
    assert not in_maintenance(windows, "blog", sunday - timedelta(hours=1))
    assert not in_maintenance(windows, "blog", sunday + timedelta(hours=2))
    assert not in_maintenance(windows, "blog", sunday + timedelta(days=1))
    assert in_maintenance(windows, "blog", sunday + timedelta(days=3))  # Wednesday


def test_weekly_window_across_midnight() -> None:
    config = parse(
        "targets:\n  - {url: 'https://shop.example/', name: shop}\n"
        "alerts: {maintenance: [{weekly: {days: [sat], start: '23:00', duration: 3h}}]}\n"
    )
    saturday_night = datetime(2025, 6, 7, 23, 30, tzinfo=UTC)
    assert in_maintenance(config.maintenance, "shop", saturday_night)
    assert in_maintenance(config.maintenance, "shop", saturday_night + timedelta(hours=2))
    assert not in_maintenance(config.maintenance, "shop", saturday_night + timedelta(hours=3))


def test_has_alerts_section(tmp_path: Path) -> None:
    from wac.alerts.config import has_alerts_section

    path = tmp_path / "t.yaml"
    path.write_text("targets:\n  - url: https://a.example/\n")
    assert not has_alerts_section(path)
    path.write_text("targets:\n  - url: https://a.example/\nalerts:\n  defaults: {}\n")
    assert has_alerts_section(path)
    assert not has_alerts_section(tmp_path / "missing.yaml")


def test_wac_up_and_wac_alert_refuse_a_bad_alerts_section_before_starting(tmp_path: Path) -> None:
    from tests.support.processes import wac

    path = tmp_path / "t.yaml"
    path.write_text(
        "targets:\n  - {url: 'https://a.example/', name: a}\n"
        "alerts:\n  notifiers:\n"
        "    ops: {type: webhook, url: 'https://h/', secret_env: NOT_SET_X}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NOT_SET_X"}
    for command in (["up", "--config", str(path)], ["alert", "--config", str(path)]):
        done = wac(command, env, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "alerts.notifiers.ops: secret_env names the environment variable NOT_SET_X" in (
            done.stderr
        )
    ok = tmp_path / "ok.yaml"
    ok.write_text("targets:\n  - {url: 'https://a.example/', name: a}\nalerts: {}\n")
    done = wac(["alert", "--config", str(ok), "--check-config"], env, timeout=60)
    assert done.returncode == 0 and "configuration OK; notifiers: none" in done.stdout
