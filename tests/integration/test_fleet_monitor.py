"""`wac monitor --fleet` on the real Kafka: its arguments, and bad records in the topic."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Producer

from tests.support.fleet import checks, define, fleet_env, publish, start_member
from tests.support.kafka_read import read_topic
from tests.support.processes import wac, wait_for
from tests.support.servers import free_port
from tests.support.store import own_schema
from wac.runtime.kafka import client_config
from wac.store.targets_mirror import TargetsMirror
from wac.targets import target_from_url
from wac.targets_topic import targets_topic_settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--fleet", "https://example.test/"], "so URLs cannot go with it"),
        (["--fleet", "--config", "targets.yaml"], "so --config cannot go with it"),
        (["--fleet", "--shard", "0/2", "--period", "5s"], "--period and --shard cannot go"),
        (["--session-timeout", "10s", "https://example.test/"], "applies to --fleet only"),
        (["--fleet", "--session-timeout", "0.5"], "must be between 1s and 300s"),
    ],
)
def test_fleet_refuses_other_targets_in_one_line(
    isolated_env: dict[str, str], args: list[str], says: str
) -> None:
    done = wac(["monitor", *args], isolated_env)
    assert done.returncode == 2
    assert says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_record_is_skipped_and_the_rest_checked(
    isolated_env: dict[str, str], tmp_path: Path
) -> None:
    env = fleet_env(isolated_env, partitions=2)
    port = free_port()
    good = [
        target_from_url(f"http://127.0.0.1:{port}/{i}", interval=0.5, timeout=1) for i in range(2)
    ]
    publish(env, define(good))
    settings = targets_topic_settings(env)
    producer = Producer(client_config(settings.kafka))
    producer.produce(settings.topic, key=b"broken", value=b'{"v": 1, "url": "ftp://x/"}')
    producer.produce(settings.topic, key=b"not-json", value=b"\xff{")
    assert producer.flush(20) == 0
    member = start_member(env, "loc-a", tmp_path)
    try:
        wait_for(
            lambda: {t.id for t in good} <= {json.loads(v)["target"] for _, v in read_topic(env)},
            40,
            "checks of both good targets",
        )
        time.sleep(1)
        assert member.process.poll() is None, member.log()[-2000:]
    finally:
        code = member.stop()
    log = member.log()
    skipped = [line for line in log.splitlines() if "skipped, not a valid definition" in line]
    assert len(skipped) == 2, log[-3000:]
    assert any("(key 'broken')" in line and "url" in line for line in skipped)
    assert any("(key 'not-json')" in line and "UTF-8" in line for line in skipped)
    assert code == 0
    assert "Traceback" not in log


def test_a_bad_record_counts_as_no_definition_in_the_fleet_the_mirror_and_the_cli(
    isolated_env: dict[str, str], tmp_path: Path
) -> None:
    """A bad record after a good one, followed live: the fleet stops checking the target,
    the store's mirror drops its row and `wac targets list` leaves it out, as every
    reader will once compaction removed the good record; a valid record brings it back."""
    with own_schema(isolated_env) as schema_env:
        env = fleet_env(schema_env, partitions=2)
        port = free_port()
        kept, spoiled = (
            target_from_url(f"http://127.0.0.1:{port}/{name}", interval=0.5, timeout=1)
            for name in ("kept", "spoiled")
        )
        publish(env, define([kept, spoiled]))
        settings = targets_topic_settings(env)
        mirror = TargetsMirror(settings, env["POSTGRES_ENDPOINT"])
        mirror.start()
        member = start_member(env, "loc-a", tmp_path)
        try:
            wait_for(
                lambda: {kept.id, spoiled.id} <= {c.target for c in checks(env)},
                40,
                "checks of both targets",
            )
            wait_for(lambda: mirrored(env) == {kept.id, spoiled.id}, 30, "both mirrored")
            producer = Producer(client_config(settings.kafka))
            producer.produce(settings.topic, key=spoiled.id.encode(), value=b'{"v": 1}')
            assert producer.flush(20) == 0
            bad_at = time.time()
            wait_for(lambda: mirrored(env) == {kept.id}, 30, "the mirror to drop it")
            listed = json.loads(wac(["targets", "list", "--json"], env).stdout)
            assert [entry["id"] for entry in listed] == [kept.id]
            # The fleet: no check of it starts later than a second after the record.
            time.sleep(3)
            late = [c for c in checks(env) if c.target == spoiled.id and c.at > bad_at + 1]
            assert late == []
            assert [c for c in checks(env) if c.target == kept.id and c.at > bad_at + 1]
            # A valid definition brings it back everywhere.
            publish(env, define([spoiled]))
            back_at = time.time()
            wait_for(
                lambda: any(c.target == spoiled.id and c.at > back_at for c in checks(env)),
                30,
                "checks of it again",
            )
            wait_for(lambda: mirrored(env) == {kept.id, spoiled.id}, 30, "mirrored again")
            assert member.process.poll() is None, member.log()[-2000:]
        finally:
            code = member.stop()
            mirror.stop()
    log = member.log()
    skipped = [line for line in log.splitlines() if "skipped, not a valid definition" in line]
    assert len(skipped) == 1 and spoiled.id in skipped[0], log[-3000:]
    assert code == 0


def mirrored(env: dict[str, str]) -> set[str]:
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        return {row[0] for row in conn.execute("SELECT target FROM managed_targets")}
