"""A notifier's repr shows none of its secrets (keys, tokens, webhook URLs)."""

from __future__ import annotations

from wac.alerts.notifiers import opsgenie, pagerduty, teams

ROUTING_KEY = "r" * 32
API_KEY = "opsgenie-api-key-0123456789"
TEAMS_URL = "https://example.webhook.office.com/workflows/abc?sig=secret-signature-123"


def test_no_secret_in_a_notifiers_repr() -> None:
    made = [
        (
            pagerduty.from_config("pd", {"routing_key_env": "K"}, {"K": ROUTING_KEY}, "x"),
            ROUTING_KEY,
        ),
        (opsgenie.from_config("og", {"api_key_env": "K"}, {"K": API_KEY}, "x"), API_KEY),
        (teams.from_config("t", {"url_env": "U"}, {"U": TEAMS_URL}, "x"), "secret-signature-123"),
    ]
    for notifier, secret in made:
        assert secret not in repr(notifier) and secret not in str(notifier), notifier.name
