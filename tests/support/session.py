"""The test session's own database and topics on the local services.

Their names carry the session's id, whose first eight hex digits are its start time
(Unix seconds), so what a killed session left behind is recognised and removed by a
later one, a day on, without touching a session that still runs.
"""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from psycopg import sql

SESSION_ID = f"{int(time.time()):08x}{uuid.uuid4().hex[:6]}"
TEST_DATABASE = f"wac_test_{SESSION_ID}"
TEST_TOPIC_PREFIX = f"wac-test-{SESSION_ID}"
_DATABASE = re.compile(r"wac_test_([0-9a-f]{8})[0-9a-f]{6}")
_TOPIC = re.compile(r"wac-test-([0-9a-f]{8})[0-9a-f]{6}(?![0-9a-f]).*")


def with_database(url: str, name: str) -> str:
    """The libpq URL with its database replaced by `name`."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def create_database(url: str, name: str) -> str:
    """Create database `name` beside the one of `url`; returns its URL."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(url, name)


def drop_database(url: str, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _started(match: re.Match[str] | None) -> float | None:
    return None if match is None else float(int(match.group(1), 16))


def drop_stale_databases(url: str, started_before: float) -> None:
    """Drop the test databases of sessions that started before `started_before`."""
    with psycopg.connect(url, autocommit=True) as conn:
        names = [n for (n,) in conn.execute("SELECT datname FROM pg_database")]
    for name in names:
        started = _started(_DATABASE.fullmatch(name))
        if started is not None and started < started_before:
            drop_database(url, name)


def delete_topics(user_env: dict[str, str], prefix: str, started_before: float) -> None:
    """Delete the topics named `prefix...`, and those of sessions that started before
    `started_before`."""
    admin = AdminClient({"bootstrap.servers": user_env["KAFKA_PLAINTEXT_ENDPOINT"]})
    doomed = []
    for topic in admin.list_topics(timeout=20).topics:
        started = _started(_TOPIC.fullmatch(topic))
        if topic.startswith(prefix) or (started is not None and started < started_before):
            doomed.append(topic)
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            try:
                future.result(timeout=60)
            except KafkaException as exc:  # deleted meanwhile (another session's cleanup)
                if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise
