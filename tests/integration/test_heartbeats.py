"""Heartbeat (push://) targets end to end, as a user runs them: `wac web` takes the pings,
`wac monitor` notices the missed periods, `wac store` writes both; rows counted in
PostgreSQL. Targets pinged on time, late, and not at all, with the monitor killed
(SIGKILL) and restarted in the middle: exactly one down row per missed period."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

from tests.support.fleet import fleet_env, start_member
from tests.support.kafka_read import read_topic
from tests.support.processes import start, stop, wac, wait_for
from tests.support.servers import free_port
from tests.support.store import own_schema, query

TOKENS = {
    "on-time": "ontime-token-0123456789",
    "late": "late-token-0123456789ab",
    "missing": "missing-token-0123456789",
}
TARGETS = """\
targets:
  - {url: "push://on-time", interval: 2s, grace: 1s, token_env: TOKEN_ON_TIME}
  - {url: "push://late", interval: 3s, grace: 1s, token_env: TOKEN_LATE}
  - {url: "push://missing", interval: 1s, grace: 500ms, token_env: TOKEN_MISSING}
"""


def ping(port: int, token: str, method: str = "GET") -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/push/{token}",
        method=method,
        data=b"job output" if method == "POST" else None,
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            assert json.loads(answer.read())["ok"] is True
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def rows(env: dict[str, str], target: str, ok: bool) -> list[tuple[object, ...]]:
    return query(
        env,
        "SELECT checked_at, id, error_kind, error_message, probe FROM checks "
        "WHERE target = %s AND ok = %s ORDER BY checked_at",
        (target, ok),
    )


def test_pings_and_missed_periods_exactly_once_across_a_monitor_restart(
    isolated_env: dict[str, str], tmp_path: Path
) -> None:
    with own_schema(isolated_env) as base_env:
        env = {
            **base_env,
            "TOKEN_ON_TIME": TOKENS["on-time"],
            "TOKEN_LATE": TOKENS["late"],
            "TOKEN_MISSING": TOKENS["missing"],
            "WAC_MONITOR_NAME": "heartbeat-test",
        }
        config = tmp_path / "targets.yaml"
        config.write_text(TARGETS)
        port = free_port()
        store = start(["wac", "store"], env)
        web = start(
            ["wac", "web", "--config", str(config), "--port", str(port), "--no-rollup"], env
        )
        monitor = start(["wac", "monitor", "--config", str(config)], env)
        pinging = threading.Event()
        try:
            wait_for(lambda: _answers(port), 30, "wac web")
            # a token no target has
            assert ping(port, "no-such-token-0123456789") == 404
            assert ping(port, TOKENS["missing"]) == 200  # its only ping
            assert ping(port, TOKENS["late"], "POST") == 200

            def on_time() -> None:
                while not pinging.is_set():
                    ping(port, TOKENS["on-time"])
                    pinging.wait(0.8)

            beat = threading.Thread(target=on_time, daemon=True)
            beat.start()
            # late: due by +3 s (grace 1 s): the period is missed (the watcher noted it),
            # then a ping, before the next period's deadline (+7 s)
            wait_for(lambda: _missed_noted(env, "push://late"), 15, "late's missed period")
            assert ping(port, TOKENS["late"]) == 200
            # the monitor that notices is killed, missing's periods go on passing
            wait_for(lambda: len(rows(env, "push://missing", False)) >= 2, 30, "missed periods")
            monitor.send_signal(signal.SIGKILL)
            monitor.wait(10)
            time.sleep(3)
            monitor = start(["wac", "monitor", "--config", str(config)], env)
            for _ in range(3):  # late now pings on time
                time.sleep(1)
                assert ping(port, TOKENS["late"]) == 200
            time.sleep(3)
            pinging.set()
            beat.join(5)
        finally:
            pinging.set()
            _, _, monitor_err = stop(monitor)
            stop(web)
        time.sleep(2)  # the store takes what is still coming
        _, _, store_err = stop(store)

        # on time: pings only
        assert len(rows(env, "push://on-time", True)) >= 8
        assert rows(env, "push://on-time", False) == []
        # late: one down (kind heartbeat) for its one missed period, its pings up
        late = rows(env, "push://late", False)
        assert len(late) == 1, late
        assert late[0][2] == "heartbeat" and late[0][4] == "push"
        assert "a ping was due by" in str(late[0][3])
        assert len(rows(env, "push://late", True)) == 5
        # missing: one down per period since its ping, none twice, none skipped while
        # the monitor was away
        (ping_row,) = rows(env, "push://missing", True)
        downs = rows(env, "push://missing", False)
        assert len(downs) >= 8, (downs, monitor_err, store_err)
        pinged_at = ping_row[0]
        assert isinstance(pinged_at, datetime)
        first = pinged_at + timedelta(seconds=1.5)  # expected +1 s, grace 0.5 s
        expected = [first + timedelta(seconds=k) for k in range(len(downs))]
        assert [row[0] for row in downs] == expected
        assert len({row[1] for row in downs}) == len(downs)
        assert all(row[2] == "heartbeat" for row in downs)
        # the tokens are in no log and no row
        everything = json.dumps(query(env, "SELECT * FROM checks", ()), default=str)
        for token in TOKENS.values():
            assert token not in everything and token not in monitor_err


def _missed_noted(env: dict[str, str], target: str) -> bool:
    found = query(env, "SELECT missed_through FROM push_pings WHERE target = %s", (target,))
    return bool(found and found[0][0] is not None)


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
            return True
    except OSError:
        return False


def test_a_monitor_with_push_targets_needs_postgres(
    isolated_env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in isolated_env.items() if k != "POSTGRES_ENDPOINT"}
    env["TOKEN_ON_TIME"] = TOKENS["on-time"]
    config = tmp_path / "targets.yaml"
    config.write_text(TARGETS.splitlines()[0] + "\n" + TARGETS.splitlines()[1] + "\n")
    done = wac(["monitor", "--config", str(config)], env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "push:// targets need PostgreSQL, where wac web notes their pings" in done.stderr


MANAGED_TOKEN = "managed-beat-token-0123456789"


def test_a_managed_push_target_pinged_through_wac_web_and_watched_by_the_fleet(
    isolated_env: dict[str, str], tmp_path: Path
) -> None:
    """A push target applied to the targets topic: `wac targets apply` and the fleet
    monitor run without its token (the definition carries the variable's name), `wac web`
    reads the token from its own environment and takes the pings of the target it finds
    in the store's mirror; one missed period gives one down result, from the fleet."""
    with own_schema(isolated_env) as base_env:
        env = {**fleet_env(base_env, partitions=2), "WAC_MONITOR_NAME": "fleet-beat"}
        web_env = {**env, "BEAT_TOKEN": MANAGED_TOKEN}
        config = tmp_path / "managed.yaml"
        config.write_text(
            'targets:\n  - {url: "push://nightly", interval: 2s, grace: 1s, '
            "token_env: BEAT_TOKEN}\n"
        )
        applied = wac(["targets", "apply", str(config)], env)
        assert applied.returncode == 0, applied.stderr
        port = free_port()
        store = start(["wac", "store"], env)
        web = start(["wac", "web", "--port", str(port), "--no-rollup"], web_env)
        member = start_member(env, "loc-beat", tmp_path)
        try:
            wait_for(lambda: _answers(port), 30, "wac web")
            wait_for(
                lambda: query(env, "SELECT 1 FROM managed_targets WHERE target = %s", (TARGET,)),
                30,
                "the store to mirror the push target",
            )
            wait_for(lambda: ping(port, MANAGED_TOKEN) == 200, 10, "wac web to take the ping")
            assert ping(port, "not-the-managed-token-0123") == 404
            for _ in range(2):
                time.sleep(1)
                assert ping(port, MANAGED_TOKEN) == 200
            # no ping now: the fleet's watcher notes the missed period, then pings resume
            wait_for(lambda: _missed_noted(env, TARGET), 20, "the missed period")
            assert ping(port, MANAGED_TOKEN) == 200
            for _ in range(3):
                time.sleep(1)
                assert ping(port, MANAGED_TOKEN) == 200
            wait_for(lambda: rows(env, TARGET, False), 20, "the down row")
            time.sleep(1)  # the store takes what is still coming
        finally:
            member_code = member.stop()
            _, _, web_err = stop(web)
            _, _, store_err = stop(store)
        downs = rows(env, TARGET, False)
        pings = rows(env, TARGET, True)
        print(f"\nmanaged push target: {len(pings)} pings stored, {len(downs)} down result(s)")
        assert len(downs) == 1, downs
        assert downs[0][2] == "heartbeat" and downs[0][4] == "push"
        assert len(pings) == 7
        (monitor,) = query(
            env, "SELECT DISTINCT monitor FROM checks WHERE target = %s AND NOT ok", (TARGET,)
        )
        assert monitor == ("loc-beat",)
        # the token travels nowhere: not in the topic, the mirror, the rows or a log
        definition = query(env, "SELECT definition FROM managed_targets", ())
        assert json.loads(json.dumps(definition[0][0]))["token_env"] == "BEAT_TOKEN"
        everything = json.dumps(
            [definition, query(env, "SELECT * FROM checks", ())], default=str
        ) + "".join(v.decode(errors="replace") for _, v in read_topic(targets_env(env)))
        for text in (everything, member.log(), web_err, store_err, applied.stdout):
            assert MANAGED_TOKEN not in text
        assert "not checked" not in member.log() and "unknown scheme" not in member.log()
        assert member_code == 0


TARGET = "push://nightly"


def targets_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "KAFKA_TOPIC": env["KAFKA_TARGETS_TOPIC"]}


def test_sighup_reads_the_files_push_targets_again(
    isolated_env: dict[str, str], tmp_path: Path
) -> None:
    """A push target added to the file takes pings after SIGHUP, one removed no longer."""
    from tests.support.web_server import running_web

    with own_schema(isolated_env) as base_env:
        env = {**base_env, "TOKEN_ON_TIME": TOKENS["on-time"], "TOKEN_LATE": TOKENS["late"]}
        config = tmp_path / "targets.yaml"
        first, second = TARGETS.splitlines()[1:3]
        config.write_text(f"targets:\n{first}\n")
        args = ["--no-rollup", "--config", str(config)]
        store = start(["wac", "store"], env)  # makes the results topic
        try:
            with running_web(args, env, tmp_path / "web.log") as web:
                assert ping(web.port, TOKENS["on-time"]) == 200, web.output()
                assert ping(web.port, TOKENS["late"]) == 404
                config.write_text(f"targets:\n{second}\n")
                web.process.send_signal(signal.SIGHUP)
                wait_for(lambda: "read again" in web.output(), 20, "the reload")
                assert ping(web.port, TOKENS["late"]) == 200
                assert ping(web.port, TOKENS["on-time"]) == 404
        finally:
            stop(store)
        pinged = query(env, "SELECT target FROM push_pings ORDER BY target", ())
        assert pinged == [("push://late",), ("push://on-time",)]
