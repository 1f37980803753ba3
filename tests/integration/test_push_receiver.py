"""`wac web`'s push receiver and the managed push targets of the store's mirror, on the
real PostgreSQL: a managed target's token is read from the receiver's environment by its
`token_env`; a target whose variable is not set, or that shares a token, takes no pings
(one warning naming it, never the value); the file's targets win; changes to the mirror
are seen within the refresh."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import psycopg
import pytest

from tests.support.store import own_schema
from wac.config import load_settings
from wac.targets.definition import definition_from_json, definition_to_json
from wac.targets.entry import target_from_json
from wac.web.push import REFRESH_S, PushReceiver

pytestmark = pytest.mark.integration

TOKENS = {"A_TOKEN": "a-token-0123456789abcdef", "B_TOKEN": "b-token-0123456789abcdef"}


@pytest.fixture
def env(isolated_env: dict[str, str]) -> Iterator[dict[str, str]]:
    with own_schema(isolated_env) as found:
        yield found


def mirror(url: str, name: str, token_env: str) -> None:
    """A row as the store's mirror writes it for a managed push target."""
    definition = definition_from_json(
        {"v": 1, "url": f"push://{name}", "interval": 60, "token_env": token_env}
    )
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO managed_targets (target, definition, url, interval_s, paused,"
            " topic_partition, topic_offset) VALUES (%s, %s, %s, 60, false, 0, 0)"
            " ON CONFLICT (target) DO UPDATE SET definition = EXCLUDED.definition",
            (definition.id, json.dumps(definition_to_json(definition)), definition.target.url),
        )


def unmirror(url: str, name: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM managed_targets WHERE target = %s", (f"push://{name}",))


def test_managed_push_targets_take_pings_by_the_token_of_their_variable(
    env: dict[str, str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = env["POSTGRES_ENDPOINT"]
    now = [0.0]
    monkeypatch.setenv("F_TOKEN", "f-token-0123456789abcdef")  # the targets file's target
    from_file = target_from_json(
        {"url": "push://from-file", "interval": 60, "token_env": "F_TOKEN"}
    )
    receiver = PushReceiver(
        [from_file], url, load_settings(env).kafka(), "web", env=TOKENS, clock=lambda: now[0]
    )
    mirror(url, "a", "A_TOKEN")
    mirror(url, "unset", "NOT_SET_HERE")
    mirror(url, "copy", "A_TOKEN")  # a's token again
    mirror(url, "from-file", "B_TOKEN")  # the file's id: the file wins
    try:
        with caplog.at_level(logging.WARNING, logger="wac.web.push"):
            found = receiver.lookup(TOKENS["A_TOKEN"])
            assert found is not None and found.id in ("push://a", "push://copy")
            assert receiver.lookup(TOKENS["B_TOKEN"]) is None
            filed = receiver.lookup("f-token-0123456789abcdef")
            assert filed is not None and filed.id == "push://from-file"
            assert receiver.lookup("no-such-token-0123456789") is None
        warnings = [r.getMessage() for r in caplog.records]
        assert any("NOT_SET_HERE" in w and "push://unset" in w for w in warnings), warnings
        assert any("has the same token" in w for w in warnings), warnings
        assert any("push://from-file" in w and "targets file" in w for w in warnings)
        assert not any(token in w for w in warnings for token in TOKENS.values())

        # A new managed target: its first ping (a token not found) reads the mirror
        # again, at most once a second.
        mirror(url, "b", "B_TOKEN")
        unmirror(url, "from-file")
        assert receiver.lookup(TOKENS["B_TOKEN"]) is None  # read again under a second ago
        now[0] += 1.0
        found = receiver.lookup(TOKENS["B_TOKEN"])
        assert found is not None and found.id == "push://b"
        # Deleted: its token stops working within REFRESH_S.
        unmirror(url, "b")
        assert receiver.lookup(TOKENS["B_TOKEN"]) is not None
        now[0] += REFRESH_S
        assert receiver.lookup(TOKENS["B_TOKEN"]) is None
        assert receiver.managed >= 1
    finally:
        receiver.close()
