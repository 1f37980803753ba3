"""Helpers for the store's tests: a schema of their own, producing results, counting rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
import psycopg
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from wac.config import load_settings
from wac.db.migrate import migrate
from wac.result import CheckError, CheckResult, Phases, encode
from wac.runtime.kafka import client_config, ensure_topic


def with_schema(url: str, schema: str) -> str:
    """The libpq URL with `search_path` set to `schema` (tables are created there)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


@contextmanager
def own_schema(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`env` with POSTGRES_ENDPOINT pointing at a fresh, migrated schema, dropped after."""
    schema = f"wac_test_{uuid.uuid4().hex[:10]}"
    base = env["POSTGRES_ENDPOINT"]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE SCHEMA {}").format(psycopg.sql.Identifier(schema)))
    url = with_schema(base, schema)
    with psycopg.connect(url) as conn:
        migrate(conn)
    try:
        yield {**env, "POSTGRES_ENDPOINT": url}
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(psycopg.sql.Identifier(schema))
            )


def result(
    target: str = "example",
    *,
    checked_at: datetime | None = None,
    ok: bool = True,
    **changes: Any,
) -> CheckResult:
    base = CheckResult(
        v=1,
        id=uuid.uuid4(),
        target=target,
        url=f"https://{target}.example.com/",
        monitor="test-monitor",
        checked_at=checked_at or datetime.now(UTC),
        ok=ok,
        status_code=200 if ok else 503,
        response_time_ms=12.5,
        phases=Phases(resolve=0.5, connect=1.0, tls=3.0, processing=6.0, transfer=2.0),
        pattern=None,
        pattern_matched=None,
        tls_expires_at=datetime.now(UTC) + timedelta(days=90),
        error=None if ok else CheckError("status", "HTTP status 503, expected 2xx or 3xx"),
    )
    return msgspec.structs.replace(base, **changes) if changes else base


def results(count: int, targets: int = 10, prefix: str = "t") -> list[CheckResult]:
    start = datetime.now(UTC)
    return [
        result(f"{prefix}{i % targets}", checked_at=start + timedelta(milliseconds=i))
        for i in range(count)
    ]


def producer(env: dict[str, str]) -> Producer:
    kafka = load_settings(env).kafka()
    return Producer(
        client_config(
            kafka,
            **{"enable.idempotence": True, "acks": "all", "linger.ms": 5},
        )
    )


def produce(
    env: dict[str, str],
    messages: Iterable[CheckResult | tuple[bytes | None, bytes | None]],
) -> list[tuple[int, int]]:
    """Publish results (keyed by target) or raw (key, value) pairs, in order.

    Returns the (partition, offset) each message got, in the order given.
    """
    kafka = load_settings(env).kafka()
    ensure_topic(kafka)
    topic = kafka.topic
    p = producer(env)
    positions: dict[int, tuple[int, int]] = {}

    def delivered(index: int) -> Any:
        def report(error: Any, message: Any) -> None:
            assert error is None, error
            positions[index] = (message.partition(), message.offset())

        return report

    count = 0
    for item in messages:
        key: bytes | None
        value: bytes | None
        if isinstance(item, CheckResult):
            key, value = item.target.encode(), encode(item)
        else:
            key, value = item
        while True:
            try:
                p.produce(topic, value=value, key=key, on_delivery=delivered(count))
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        count += 1
    assert p.flush(30) == 0, "messages left unsent"
    return [positions[i] for i in range(count)]


def committed(env: dict[str, str], partitions: int) -> int:
    """Sum of the store group's committed offsets over the topic's partitions."""
    kafka = load_settings(env).kafka()
    consumer = Consumer(
        client_config(kafka, **{"group.id": kafka.group_id, "enable.auto.commit": False})
    )
    try:
        offsets = consumer.committed(
            [TopicPartition(kafka.topic, p) for p in range(partitions)], timeout=10
        )
        return sum(max(tp.offset, 0) for tp in offsets)
    finally:
        consumer.close()


def group_members(env: dict[str, str]) -> int:
    """How many consumers the store group has right now (0 while it rebalances)."""
    kafka = load_settings(env).kafka()
    admin = AdminClient(client_config(kafka))
    future = admin.describe_consumer_groups([kafka.group_id])[kafka.group_id]
    group = future.result(timeout=10)
    if str(group.state) not in ("ConsumerGroupState.STABLE", "STABLE"):
        return 0
    return len(group.members)


def query(env: dict[str, str], sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        return conn.execute(sql.encode(), params).fetchall()


def counts(env: dict[str, str]) -> tuple[int, int]:
    """(rows, distinct ids) in checks."""
    ((rows, ids),) = query(env, "SELECT count(*), count(DISTINCT id) FROM checks")
    return rows, ids


def rejected_count(env: dict[str, str]) -> int:
    return query(env, "SELECT count(*) FROM rejected_messages")[0][0]
