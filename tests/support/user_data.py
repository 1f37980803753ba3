"""The user's data on the local services, as `make up` leaves it, and a check that the
tests never touch it.

The tests use a database and topics of their own session (tests/conftest.py); the
user's are the local PostgreSQL's default database and the default topics and groups.
`take` records what can change about them: the tables (every schema but PostgreSQL's
own), their rows and their write counters; each default topic's end offsets; each
default group's committed offsets. `differences` compares two records.

When the user's own services (`wac store`, `wac web`, `wac alert`: their connections
name themselves `wac-...`) write to the database at the same time, rows and counters
move without the tests; then only what a test would add and those services would not
is compared: the tables and the targets the dashboard lists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urlsplit

import psycopg
from confluent_kafka import Consumer, TopicPartition
from psycopg import sql

from tests.support.kafka_ready import COORDINATOR_NOT_READY, LEADER_NOT_READY, once_ready

DEFAULT_TOPIC = "website-monitoring"
DEFAULT_GROUP = "website-monitoring-group"
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


def user_topics() -> list[str]:
    """The topics `make up` writes: the results and the alerts' events."""
    topics = {DEFAULT_TOPIC, os.environ.get("KAFKA_TOPIC", "").strip() or DEFAULT_TOPIC}
    return sorted(topics | {f"{t}-events" for t in topics})


def user_groups() -> list[str]:
    """The consumer groups `make up` reads with: the store's and the alerts'."""
    groups = {DEFAULT_GROUP, os.environ.get("KAFKA_GROUP_ID", "").strip() or DEFAULT_GROUP}
    return sorted(groups | {f"{g}-alert" for g in groups})


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@dataclass
class UserData:
    database: str
    server_started: object = None
    relations: set[str] = field(default_factory=set)  # schema.name of tables and sequences
    rows: dict[str, int] = field(default_factory=dict)  # table → rows
    writes: dict[str, int] = field(default_factory=dict)  # table → inserts+updates+deletes
    targets: set[str] = field(default_factory=set)  # the dashboard's list
    topic_ends: dict[str, int] = field(default_factory=dict)  # topic:partition → end offset
    group_offsets: dict[str, int] = field(default_factory=dict)  # group/topic:partition
    others_writing: list[str] = field(default_factory=list)  # the user's services connected


def take(
    user_env: dict[str, str],
    topics: list[str] | None = None,
    groups: list[str] | None = None,
) -> UserData:
    """What the user's database and topics hold now (`user_env`: `wac services env`;
    `topics` and `groups`: the user's by default)."""
    url = user_env["POSTGRES_ENDPOINT"]
    found = UserData(database_name(url))
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
        found.server_started = row[0] if row else None
        found.others_writing = [
            name
            for (name,) in conn.execute(
                "SELECT DISTINCT application_name FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name LIKE 'wac-%' ORDER BY 1"
            )
        ]
        tables = conn.execute(
            "SELECT n.nspname, c.relname, c.relkind, c.relispartition FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'S') AND n.nspname <> ALL(%s) "
            "AND n.nspname NOT LIKE 'pg_temp%%' AND n.nspname NOT LIKE 'pg_toast_temp%%'",
            (list(SYSTEM_SCHEMAS),),
        ).fetchall()
        for schema, name, kind, is_partition in tables:
            qualified = f"{schema}.{name}"
            found.relations.add(qualified)
            if kind != "S" and not is_partition:  # a partitioned table counts its partitions
                count = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
                ).fetchone()
                found.rows[qualified] = int(count[0]) if count else 0
        for schema, name, writes in conn.execute(
            "SELECT schemaname, relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables"
        ):
            found.writes[f"{schema}.{name}"] = int(writes)
        if "public.targets" in found.relations:
            found.targets = {t for (t,) in conn.execute("SELECT target FROM public.targets")}
    kafka = {"bootstrap.servers": user_env["KAFKA_PLAINTEXT_ENDPOINT"]}
    consumer = Consumer({**kafka, "group.id": "wac-test-user-data", "enable.auto.commit": False})
    try:
        existing = consumer.list_topics(timeout=20).topics
        partitions = [
            TopicPartition(topic, p)
            for topic in (user_topics() if topics is None else topics)
            if topic in existing
            for p in existing[topic].partitions
        ]
        for tp in partitions:
            _, high = once_ready(
                partial(consumer.get_watermark_offsets, tp, timeout=20),
                LEADER_NOT_READY,
                within=60,
                pause=0.5,
            )
            found.topic_ends[f"{tp.topic}:{tp.partition}"] = high
    finally:
        consumer.close()
    for group in user_groups() if groups is None else groups:
        reader = Consumer({**kafka, "group.id": group, "enable.auto.commit": False})
        try:
            for tp in _committed(reader, partitions) if partitions else []:
                found.group_offsets[f"{group}/{tp.topic}:{tp.partition}"] = tp.offset
        finally:
            reader.close()
    return found


def _committed(consumer: Consumer, partitions: list[TopicPartition]) -> list[TopicPartition]:
    """The group's committed offsets, once its coordinator answers (it may be loading)."""
    return once_ready(
        lambda: list(consumer.committed(partitions, timeout=20)),
        COORDINATOR_NOT_READY,
        within=60,
        pause=0.5,
    )


def differences(before: UserData, after: UserData) -> list[str]:
    """What changed in the user's data between two records, one line each."""
    changed: list[str] = []
    added = sorted(after.relations - before.relations)
    removed = sorted(before.relations - after.relations)
    busy = before.others_writing or after.others_writing
    if busy:
        # The user's own services write meanwhile: their store creates partitions ahead.
        added = [r for r in added if not r.startswith("public.checks_p")]
        removed = [r for r in removed if not r.startswith("public.checks_p")]
    changed += [f"table or sequence created: {r}" for r in added]
    changed += [f"table or sequence dropped: {r}" for r in removed]
    new_targets = sorted(after.targets - before.targets)
    if new_targets:
        shown = ", ".join(new_targets[:5]) + (", ..." if len(new_targets) > 5 else "")
        changed.append(f"{len(new_targets)} targets added to the dashboard's list: {shown}")
    if busy:
        return changed
    for table in sorted(before.rows.keys() & after.rows.keys()):
        if before.rows[table] != after.rows[table]:
            changed.append(f"{table}: {before.rows[table]} rows, now {after.rows[table]}")
    if before.server_started == after.server_started:  # a restart may reset the counters
        for table in sorted(before.writes.keys() & after.writes.keys()):
            if before.writes[table] != after.writes[table]:
                delta = after.writes[table] - before.writes[table]
                changed.append(f"{table}: {delta} rows written (inserted, updated or deleted)")
    for key in sorted(before.topic_ends.keys() | after.topic_ends.keys()):
        if before.topic_ends.get(key) != after.topic_ends.get(key):
            changed.append(
                f"topic {key}: end offset {before.topic_ends.get(key)}, "
                f"now {after.topic_ends.get(key)}"
            )
    for key in sorted(before.group_offsets.keys() | after.group_offsets.keys()):
        if before.group_offsets.get(key) != after.group_offsets.get(key):
            changed.append(
                f"group {key}: committed {before.group_offsets.get(key)}, "
                f"now {after.group_offsets.get(key)}"
            )
    return changed
