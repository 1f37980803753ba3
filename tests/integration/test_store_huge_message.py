"""A 10 MB message on the topic: dead-lettered whole, and the messages around it flow on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from tests.support.processes import start, stop, wait_for
from tests.support.store import counts, own_schema, produce, query, results
from wac.config import load_settings
from wac.runtime.kafka import client_config

pytestmark = pytest.mark.integration

TEN_MB = 10 * 1024 * 1024


@pytest.fixture
def env(isolated_env: dict[str, str]) -> Iterator[dict[str, str]]:
    with own_schema(isolated_env) as schema_env:
        yield schema_env


def test_ten_megabyte_value_is_rejected_and_the_rest_is_stored(env: dict[str, str]) -> None:
    kafka = load_settings(env).kafka()
    # The topic must allow such a message at all (the broker's default limit is 1 MB).
    admin = AdminClient(client_config(kafka))
    topic = NewTopic(
        kafka.topic,
        num_partitions=1,
        replication_factor=-1,
        config={"max.message.bytes": str(TEN_MB + 1024 * 1024)},
    )
    admin.create_topics([topic])[kafka.topic].result(30)
    before, after = results(5, prefix="before"), results(5, prefix="after")
    produce(env, before)
    big = Producer(client_config(kafka, **{"message.max.bytes": TEN_MB + 1024 * 1024}))
    big.produce(kafka.topic, key=b"before-0", value=b"{" + b" " * TEN_MB + b"}")
    assert big.flush(60) == 0
    produce(env, after)

    store = start(["wac", "store"], env)
    try:
        wait_for(lambda: counts(env)[0] == 10, 60, "the ten good results stored")
        wait_for(
            lambda: query(env, "SELECT count(*) FROM rejected_messages")[0][0] == 1,
            30,
            "the huge message dead-lettered",
        )
    finally:
        code, _, err = stop(store)
    assert code == 0, err
    ((size, reason),) = query(env, "SELECT length(value), reason FROM rejected_messages")
    assert size == TEN_MB + 2  # kept raw and whole
    assert "over the limit" in reason
