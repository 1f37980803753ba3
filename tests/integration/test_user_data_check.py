"""The check that the tests leave the user's data alone sees every kind of change.

Played on the session's own database and a topic of this test's own, standing in for
the user's (tests/test_user_data.py runs the check on the user's).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.support.store import produce, result
from tests.support.user_data import UserData, differences, take

pytestmark = pytest.mark.integration


def settled(check: Callable[[], list[str]], wanted: str, timeout: float = 20) -> list[str]:
    """`check()` once it names `wanted` (write counters reach the statistics within
    seconds of the write), or its last answer."""
    deadline = time.monotonic() + timeout
    found = check()
    while not any(wanted in line for line in found) and time.monotonic() < deadline:
        time.sleep(0.5)
        found = check()
    return found


def test_the_check_sees_tables_rows_writes_topics_and_offsets(
    isolated_env: dict[str, str],
) -> None:
    env = isolated_env
    topic, group = env["KAFKA_TOPIC"], env["KAFKA_GROUP_ID"]
    produce(env, [result("user-a")])
    target = f"user-target-{uuid.uuid4().hex[:8]}"
    table = f"user_table_{uuid.uuid4().hex[:8]}"

    def now() -> UserData:
        return take(env, topics=[topic], groups=[group])

    before = now()
    assert differences(before, now()) == []

    with psycopg.connect(env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (n integer)")
        conn.execute(f"INSERT INTO {table} VALUES (1)")
    produce(env, [result("user-a")])
    consumer = Consumer(
        {
            "bootstrap.servers": env["KAFKA_PLAINTEXT_ENDPOINT"],
            "group.id": group,
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    finally:
        consumer.close()
    found = differences(before, now())
    assert f"table or sequence created: public.{table}" in found
    assert any(line.startswith(f"topic {topic}:") and "end offset" in line for line in found)
    assert f"group {group}/{topic}:0: committed -1001, now 1" in found

    # Rows updated in place: the same count, seen by the write counters.
    with psycopg.connect(env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table}_b (n integer)")
        conn.execute(f"INSERT INTO {table}_b VALUES (1)")
    before = now()
    with psycopg.connect(env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
        conn.execute(f"UPDATE {table}_b SET n = 2")
    found = settled(lambda: differences(before, now()), f"public.{table}_b: 1 rows written")
    assert f"public.{table}_b: 1 rows written (inserted, updated or deleted)" in found
    assert not any("rows, now" in line for line in found)

    # The user's own store connected: only what it would not do counts, such as a
    # target added to the dashboard's list.
    with psycopg.connect(
        env["POSTGRES_ENDPOINT"], autocommit=True, application_name="wac-store"
    ) as theirs:
        before = now()
        assert before.others_writing == ["wac-store"]
        theirs.execute(f"INSERT INTO {table} VALUES (2)")
        theirs.execute(
            "INSERT INTO targets (target, url, first_seen, last_seen, last_ok, last_monitor, "
            "last_check_id, status_since) VALUES (%s, 'http://t/', now(), now(), true, 'm', "
            "%s, now())",
            (target, uuid.uuid4()),
        )
        found = differences(before, now())
        assert found == [f"1 targets added to the dashboard's list: {target}"]
        theirs.execute("DELETE FROM targets WHERE target = %s", (target,))
        theirs.execute(f"DROP TABLE {table}, {table}_b")
