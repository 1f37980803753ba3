"""Daily partitions of `checks`: created ahead and on demand, dropped whole past retention.

Partition `checks_pYYYYMMDD` holds the checks of that UTC day. Each store creates the
partitions of today and the next days ahead (and any day a batch needs) under an
advisory lock, so several stores never race on the same CREATE. With a retention of N
days, whole partitions older than N days are dropped (no DELETE, no bloat): a brief
exclusive lock on `checks`, bounded by `lock_timeout` so a busy table just defers the
drop to the next round.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

PARTITION_LOCK_KEY = 0x7761635F706172  # "wac_par"
DAYS_AHEAD = 3
NAME = re.compile(r"^checks_p(\d{8})$")


def partition_name(day: date) -> str:
    return f"checks_p{day.year:04d}{day.month:02d}{day.day:02d}"


def day_of(name: str) -> date | None:
    match = NAME.match(name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%d").date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


class Partitions:
    """Knows which daily partitions exist (per process cache) and keeps them right."""

    def __init__(self, retention_days: int = 0, days_ahead: int = DAYS_AHEAD) -> None:
        self.retention_days = retention_days
        self.days_ahead = days_ahead
        self._known: set[date] = set()

    def horizon(self, now: datetime) -> datetime | None:
        """Start of the oldest day kept; None when everything is kept."""
        if self.retention_days <= 0:
            return None
        return day_start(now.astimezone(UTC).date() - timedelta(days=self.retention_days))

    def forget(self) -> None:
        """Drop the cache (after a 'no partition for row' error: someone dropped one)."""
        self._known.clear()

    def ensure(self, conn: psycopg.Connection, days: Iterable[date]) -> None:
        """Create the partitions these days need, unless known to exist."""
        missing = set(days) - self._known
        if missing:
            self._create(conn, missing)

    def maintain(self, conn: psycopg.Connection, now: datetime) -> tuple[list[str], list[str]]:
        """Create today's and the next days' partitions; drop those past retention.

        Returns (created, dropped) partition names.
        """
        today = now.astimezone(UTC).date()
        created = self._create(
            conn, {today + timedelta(days=n) for n in range(self.days_ahead + 1)}
        )
        dropped = self._drop_expired(conn, now)
        return created, dropped

    def existing(self, conn: psycopg.Connection) -> dict[date, str]:
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'checks'::regclass"
        ).fetchall()
        found = {}
        for (name,) in rows:
            day = day_of(name)
            if day is not None:
                found[day] = name
        return found

    def _create(self, conn: psycopg.Connection, days: set[date]) -> list[str]:
        created = []
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK_KEY,))
            existing = self.existing(conn)
            for day in sorted(days - existing.keys()):
                name = partition_name(day)
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE {} PARTITION OF checks FOR VALUES FROM ({}) TO ({})"
                    ).format(
                        sql.Identifier(name),
                        sql.Literal(day_start(day)),
                        sql.Literal(day_start(day + timedelta(days=1))),
                    )
                )
                created.append(name)
            self._known |= existing.keys() | days
        for name in created:
            log.info("created partition %s", name)
        return created

    def _drop_expired(self, conn: psycopg.Connection, now: datetime) -> list[str]:
        horizon = self.horizon(now)
        if horizon is None:
            return []
        dropped = []
        expired = sorted(
            (day, name)
            for day, name in self.existing(conn).items()
            if day_start(day + timedelta(days=1)) <= horizon
        )
        for day, name in expired:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK_KEY,))
                    conn.execute("SET LOCAL lock_timeout = '5s'")
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
            except psycopg.errors.LockNotAvailable:
                log.warning("partition %s is busy; dropping it at the next maintenance", name)
                break
            self._known.discard(day)
            dropped.append(name)
            log.info("dropped partition %s (older than %d days)", name, self.retention_days)
        # The same retention for dead letters and for targets not seen since the horizon.
        conn.execute("DELETE FROM rejected_messages WHERE rejected_at < %s", (horizon,))
        conn.execute("DELETE FROM targets WHERE last_seen < %s", (horizon,))
        return dropped
