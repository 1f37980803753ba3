"""The store's schema: migrations under a lock, daily partitions, retention, indexes."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from tests.support.store import own_schema, result, with_schema
from tests.unit.test_migrations import RELEASED
from wac.db.migrate import available_migrations, migrate
from wac.store.partitions import Partitions, day_start, partition_name
from wac.store.writer import BatchWriter

pytestmark = pytest.mark.integration


@pytest.fixture
def fresh_schema(services_env: dict[str, str]) -> Iterator[str]:
    """The URL of an empty schema (no migration applied), dropped after."""
    schema = f"wac_test_{uuid.uuid4().hex[:10]}"
    base = services_env["POSTGRES_ENDPOINT"]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield with_schema(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def url(services_env: dict[str, str]) -> Iterator[str]:
    with own_schema(services_env) as env:
        yield env["POSTGRES_ENDPOINT"]


def test_migrations_from_several_processes_at_once_apply_once(fresh_schema: str) -> None:
    applied: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            with psycopg.connect(fresh_schema) as conn:
                barrier.wait()
                applied.append(migrate(conn))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    names = [name for _, name, _ in available_migrations()]
    assert sorted(n for batch in applied for n in batch) == sorted(names)
    with psycopg.connect(fresh_schema) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM wac_schema_migrations")]
        assert sorted(versions) == [v for v, _, _ in available_migrations()]
    with psycopg.connect(fresh_schema) as conn:
        assert migrate(conn) == []


def test_a_database_migrated_before_each_package_owned_its_sql_is_up_to_date(
    fresh_schema: str,
) -> None:
    """As the store migrated every table from its own folder: the same versions and file
    names recorded, so nothing released runs again; only the migrations added since do."""
    sql_of = {name: text for _, name, text in available_migrations()}
    with psycopg.connect(fresh_schema, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE wac_schema_migrations ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, name in RELEASED:
            with conn.transaction():
                conn.execute(sql_of[name].encode())
                conn.execute(
                    "INSERT INTO wac_schema_migrations (version, name) VALUES (%s, %s)",
                    (version, name),
                )
    newer = [(v, name) for v, name, _ in available_migrations() if (v, name) not in RELEASED]
    with psycopg.connect(fresh_schema) as conn:
        assert migrate(conn) == [name for _, name in newer]
        recorded = conn.execute("SELECT version, name FROM wac_schema_migrations ORDER BY 1")
        assert recorded.fetchall() == sorted(RELEASED + newer)
    with psycopg.connect(fresh_schema) as conn:
        assert migrate(conn) == []


def partitions(conn: psycopg.Connection) -> set[date]:
    return set(Partitions().existing(conn))


def test_partitions_are_created_ahead_and_old_ones_dropped_whole(url: str) -> None:
    now = datetime.now(UTC)
    today = now.date()
    with psycopg.connect(url, autocommit=True) as conn:
        keep = Partitions(retention_days=30)
        keep.maintain(conn, now)
        assert {today + timedelta(days=n) for n in range(4)} <= partitions(conn)
        old_days = [today - timedelta(days=d) for d in (45, 31, 30, 29)]
        keep.ensure(conn, old_days)
        assert set(old_days) <= partitions(conn)
        # A row in a partition that goes, and one in a partition that stays.
        writer = BatchWriter(url)
        from confluent_kafka import Message

        from wac.result import encode
        from wac.store.decode import decode_batch

        rows = [
            result("old", checked_at=day_start(today - timedelta(days=31)) + timedelta(hours=1)),
            result("kept", checked_at=day_start(today - timedelta(days=30)) + timedelta(hours=1)),
        ]
        batch = decode_batch(
            [
                Message(topic="t", partition=0, offset=i, key=r.target.encode(), value=encode(r))
                for i, r in enumerate(rows)
            ],
            max_bytes=65536,
            now=now,
        )
        writer.write(batch)
        writer.close()
        conn.execute(
            'INSERT INTO rejected_messages (topic, "partition", "offset", reason, rejected_at) '
            "VALUES ('t', 0, 1, 'old', now() - interval '40 days'), ('t', 0, 2, 'new', now())"
        )
        created, dropped = keep.maintain(conn, now)
        assert created == []
        assert sorted(dropped) == [partition_name(today - timedelta(days=d)) for d in (45, 31)]
        left = partitions(conn)
        assert today - timedelta(days=31) not in left and today - timedelta(days=30) in left
        assert [t for (t,) in conn.execute("SELECT target FROM checks")] == ["kept"]
        assert [r for (r,) in conn.execute("SELECT reason FROM rejected_messages")] == ["new"]
        assert keep.horizon(now) == day_start(today - timedelta(days=30))
        # Without retention nothing is ever dropped.
        assert Partitions(0).maintain(conn, now) == ([], [])


def test_indexes_serve_latest_of_a_target_and_a_time_range(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        Partitions().maintain(conn, datetime.now(UTC))
        conn.execute("SET enable_seqscan = off")
        latest = "\n".join(
            r
            for (r,) in conn.execute(
                "EXPLAIN SELECT * FROM checks WHERE target = 'x' ORDER BY checked_at DESC LIMIT 10"
            )
        )
        assert "Index Scan" in latest and "target" in latest, latest
        assert "Sort" not in latest.split("Limit")[1].split("->")[1], latest
        start = day_start(datetime.now(UTC).date())
        ranged = "\n".join(
            r
            for (r,) in conn.execute(
                "EXPLAIN SELECT count(*) FROM checks WHERE checked_at >= %s AND checked_at < %s",
                (start + timedelta(hours=1), start + timedelta(hours=2)),
            )
        )
        assert "Index" in ranged, ranged
        # Only that day's partition is read.
        assert set(re.findall(r" on (checks_p\d+)", ranged)) == {partition_name(start.date())}
