"""Writes one batch of results (and dead letters) to PostgreSQL in one transaction.

Path: COPY into a session-local staging table, then
`INSERT … SELECT … ON CONFLICT DO NOTHING` into `checks`, so a replayed message
never makes a second row. The caller commits Kafka offsets only after `write`
returns.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
from psycopg import sql

from wac.result import CheckResult

log = logging.getLogger(__name__)

CHECK_COLUMNS = (
    "id",
    "target",
    "url",
    "monitor",
    "checked_at",
    "ok",
    "status_code",
    "response_time_ms",
    "resolve_ms",
    "connect_ms",
    "tls_ms",
    "processing_ms",
    "transfer_ms",
    "pattern",
    "pattern_matched",
    "tls_expires_at",
    "error_kind",
    "error_message",
    "final_url",
)
PARTITIONS_AHEAD_DAYS = 2
PARTITION_LOCK_KEY = 0x7761635F706172  # "wac_par"


@dataclass(frozen=True)
class Rejected:
    """A message that failed to decode or validate, with where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str


def check_row(result: CheckResult) -> tuple[Any, ...]:
    p = result.phases
    e = result.error
    return (
        result.id,
        result.target,
        result.url,
        result.monitor,
        result.checked_at,
        result.ok,
        result.status_code,
        result.response_time_ms,
        p.resolve,
        p.connect,
        p.tls,
        p.processing,
        p.transfer,
        result.pattern,
        result.pattern_matched,
        result.tls_expires_at,
        e.kind if e is not None else None,
        e.message if e is not None else None,
        result.final_url,
    )


def partition_name(day: date) -> str:
    return f"checks_p{day:%Y%m%d}"


class BatchWriter:
    """Owns one autocommit connection; each `write` is one explicit transaction."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        conn.autocommit = True
        self._partitions: set[date] = set()
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS checks_staging "
            "(LIKE checks INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        self._insert = sql.SQL(
            "INSERT INTO checks ({cols}) SELECT {cols} FROM checks_staging "
            "ON CONFLICT DO NOTHING RETURNING id"
        ).format(cols=sql.SQL(", ").join(map(sql.Identifier, CHECK_COLUMNS)))
        self._copy = sql.SQL("COPY checks_staging ({cols}) FROM STDIN").format(
            cols=sql.SQL(", ").join(map(sql.Identifier, CHECK_COLUMNS))
        )

    def ensure_partitions(self, days: set[date]) -> None:
        """Create the daily partitions these days need (plus a few ahead), once each."""
        missing = days - self._partitions
        if not missing:
            return
        today = datetime.now(UTC).date()
        wanted = missing | {today + timedelta(days=n) for n in range(PARTITIONS_AHEAD_DAYS + 1)}
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK_KEY,))
            existing = {
                row[0]
                for row in self.conn.execute(
                    "SELECT c.relname FROM pg_inherits i "
                    "JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'checks'::regclass"
                )
            }
            for day in sorted(wanted):
                name = partition_name(day)
                if name not in existing:
                    start = datetime.combine(day, time(), tzinfo=UTC)
                    self.conn.execute(
                        sql.SQL(
                            "CREATE TABLE {} PARTITION OF checks FOR VALUES FROM ({}) TO ({})"
                        ).format(
                            sql.Identifier(name),
                            sql.Literal(start),
                            sql.Literal(start + timedelta(days=1)),
                        )
                    )
                    log.info("created partition %s", name)
        self._partitions |= wanted

    def write(self, results: Sequence[CheckResult], rejected: Sequence[Rejected]) -> int:
        """Store the batch in one transaction; returns how many rows were new."""
        self.ensure_partitions({r.checked_at.astimezone(UTC).date() for r in results})
        inserted = 0
        with self.conn.transaction():
            if results:
                with self.conn.cursor() as cur:
                    with cur.copy(self._copy) as copy:
                        for result in results:
                            copy.write_row(check_row(result))
                    cur.execute(self._insert)
                    inserted = cur.rowcount
            if rejected:
                with self.conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO rejected_messages "
                        '(topic, "partition", "offset", key, value, reason) '
                        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        [
                            (r.topic, r.partition, r.offset, r.key, r.value, r.reason)
                            for r in rejected
                        ],
                    )
        return inserted
