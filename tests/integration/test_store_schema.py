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
    later = [(v, name) for v, name, _ in available_migrations() if (v, name) not in RELEASED]
    with psycopg.connect(fresh_schema) as conn:
        assert migrate(conn) == [name for _, name in later]  # only those that came after
        recorded = conn.execute("SELECT version, name FROM wac_schema_migrations ORDER BY 1")
        assert recorded.fetchall() == sorted(RELEASED + later)
    with psycopg.connect(fresh_schema) as conn:
        assert migrate(conn) == []  # nothing twice


def test_targets_stored_before_the_current_status_columns_get_them_from_the_history(
    fresh_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0050 adds since when the status holds, the latest response time and certificate
    to `targets`; rows of before get them from `checks` and the rollups."""
    from tests.support.checks_data import down, insert_checks, up
    from wac.db import migrate as migrations
    from wac.rollups import job as rollup

    every = migrations.available_migrations
    # The schema before 0050, with the rollups' columns and tiers today's rollup job
    # writes (0131, 0153, 0154).
    before = {v for v, _, _ in every() if v < 50 or v in (131, 153, 154)}
    monkeypatch.setattr(
        migrations, "available_migrations", lambda: [m for m in every() if m[0] in before]
    )
    with psycopg.connect(fresh_schema) as conn:
        migrate(conn)
    monkeypatch.undo()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    base = now - timedelta(hours=3)
    expiry = now + timedelta(days=40)

    def at(minute: int) -> datetime:
        return base + timedelta(minutes=minute, seconds=10)

    checks = []
    for m in range(180):  # one check a minute; the rollups hold the first two hours
        checks.append(down("up", at(m)) if m == 60 else up("up", at(m), rt=float(m)))
        checks.append(down("fresh", at(m)) if m == 150 else up("fresh", at(m)))
        checks.append(up("always", at(m)))
        checks.append(up("down", at(m), tls_expires_at=expiry) if m < 100 else down("down", at(m)))
    with psycopg.connect(fresh_schema, autocommit=True) as conn:
        insert_checks(conn, checks, with_targets=False)
        rollup.recompute(conn, base, base + timedelta(hours=2))
        conn.execute("UPDATE rollup_state SET watermark = %s", (base + timedelta(hours=2),))
        conn.execute(  # as the store wrote them before
            "INSERT INTO targets (target, url, first_seen, last_seen, last_ok, last_status_code,"
            " last_error_kind, last_error_message, last_monitor, last_check_id) "
            "SELECT DISTINCT ON (target) target, url, min(checked_at) OVER (PARTITION BY target),"
            " checked_at, ok, status_code, error_kind, error_message, monitor, id FROM checks "
            "ORDER BY target, checked_at DESC"
        )
        assert migrate(conn) == [name for v, name, _ in every() if v not in before]
        found = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT target, last_ok, status_since, last_response_time_ms, tls_expires_at "
                "FROM targets"
            )
        }
    assert found == {
        "up": (True, at(61), 179.0, None),  # after the failure the rollups point to
        "fresh": (True, at(151), 100.0, None),  # after the failure among the raw rows
        "always": (True, at(0), 100.0, None),  # since it was first seen
        "down": (False, at(100), None, expiry),  # after the last success; its certificate
    }


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
