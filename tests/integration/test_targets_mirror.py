"""The store's mirror of the targets topic on the real Kafka and PostgreSQL:
`managed_targets` is what the compacted log says (latest wins, a tombstone deletes, a bad
record deletes and is a dead letter), each record applied once even with two mirrors,
resumed from its offsets, and run by `wac store`."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from confluent_kafka import Producer

from tests.support.processes import start, stop, wait_for
from tests.support.store import own_schema
from wac.runtime.kafka import client_config
from wac.store.targets_mirror import TargetsMirror
from wac.targets import target_from_json
from wac.targets.definition import Definition
from wac.targets_topic import (
    ensure_targets_topic,
    publish_definitions,
    targets_topic_settings,
)


@pytest.fixture
def env(isolated_env: dict[str, str]) -> Iterator[dict[str, str]]:
    with own_schema(isolated_env) as found:
        yield found


def definition(name: str, interval: str = "30s", paused: bool = False) -> Definition:
    target = target_from_json(
        {"url": f"https://user:pw@{name}.example.com/", "name": name, "interval": interval}
    )
    return Definition(target, paused=paused)


def rows(env: dict[str, str]) -> dict[str, tuple[str, float, bool]]:
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        found = conn.execute(
            "SELECT target, url, interval_s, paused FROM managed_targets"
        ).fetchall()
    return {t: (u, i, p) for t, u, i, p in found}


def test_the_mirror_follows_the_log(env: dict[str, str]) -> None:
    settings = targets_topic_settings(env)
    ensure_targets_topic(settings)
    publish_definitions(settings, {f"t{i}": definition(f"t{i}") for i in range(20)})
    first, second = TargetsMirror(settings, env["POSTGRES_ENDPOINT"]), None
    first.start()
    try:
        wait_for(lambda: len(rows(env)) == 20, 30, "20 mirrored rows")
        assert rows(env)["t3"] == ("https://***@t3.example.com/", 30.0, False)
        second = TargetsMirror(settings, env["POSTGRES_ENDPOINT"])  # a second store
        second.start()
        publish_definitions(settings, {"t1": definition("t1", "1m", paused=True), "t2": None})
        producer = Producer(client_config(settings.kafka))
        producer.produce(settings.topic, key=b"t4", value=b'{"v": 1, "url": "ftp://x/"}')
        producer.flush(10)
        wait_for(lambda: "t4" not in rows(env) and "t2" not in rows(env), 30, "the changes")
        wait_for(lambda: rows(env)["t1"][1:] == (60.0, True), 30, "t1 changed")
        assert set(rows(env)) == {f"t{i}" for i in range(20)} - {"t2", "t4"}
        # Each record once: 20 + 3 records, whichever mirror wrote them.
        wait_for(lambda: first.applied + second.applied == 23, 10, "23 records applied")
        with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
            (reason,) = conn.execute(
                "SELECT reason FROM rejected_messages WHERE topic = %s", (settings.topic,)
            ).fetchone() or ("",)
            (definition_json,) = conn.execute(
                "SELECT definition FROM managed_targets WHERE target = 't5'"
            ).fetchone() or (None,)
        assert "not a target definition" in reason and "http://" in reason
        assert definition_json["url"] == "https://user:pw@t5.example.com/"  # as published
        assert definition_json["v"] == 1 and definition_json["paused"] is False
    finally:
        first.stop()
        if second is not None:
            second.stop()
    # A mirror started again resumes where the offsets are: nothing applied twice.
    again = TargetsMirror(settings, env["POSTGRES_ENDPOINT"])
    again.start()
    try:
        publish_definitions(settings, {"t9": definition("t9", "5m")})
        wait_for(lambda: rows(env)["t9"][1] == 300.0, 30, "t9 changed")
        assert again.applied == 1
    finally:
        again.stop()


def test_wac_store_mirrors_the_targets_topic(env: dict[str, str]) -> None:
    store = start(["wac", "store"], env)
    try:
        settings = targets_topic_settings(env)
        ensure_targets_topic(settings)  # as `wac targets apply` does; the store waits for it
        publish_definitions(settings, {"api": definition("api")})
        wait_for(lambda: "api" in rows(env), 30, "the store to mirror api")
        publish_definitions(settings, {"api": None})
        wait_for(lambda: rows(env) == {}, 30, "the store to delete api")
    finally:
        code, _, err = stop(store)
    assert code == 0, err
    assert "targets mirror" in err
