"""The `push_pings` table: the newest ping of each heartbeat target, and how far its
watcher has published missed periods (the migration says what each column holds)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True)
class PingState:
    watch_since: datetime
    last_ping_at: datetime | None
    missed_through: datetime | None

    @property
    def anchor(self) -> datetime:
        """Where the periods are counted from: the newest ping, else the first watch."""
        return self.last_ping_at if self.last_ping_at is not None else self.watch_since


def record_ping(conn: psycopg.Connection, target: str, at: datetime, ping_id: uuid.UUID) -> None:
    """Note a ping (never moving `last_ping_at` back)."""
    conn.execute(
        "INSERT INTO push_pings (target, watch_since, last_ping_at, last_ping_id) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (target) DO UPDATE SET "
        "last_ping_at = GREATEST(push_pings.last_ping_at, EXCLUDED.last_ping_at), "
        "last_ping_id = CASE WHEN push_pings.last_ping_at IS NULL "
        "OR EXCLUDED.last_ping_at >= push_pings.last_ping_at "
        "THEN EXCLUDED.last_ping_id ELSE push_pings.last_ping_id END",
        (target, at, at, ping_id),
    )


def watch(conn: psycopg.Connection, targets: Iterable[str]) -> dict[str, PingState]:
    """The state of each target, a row made (watched from now) for those without one."""
    names = sorted(set(targets))
    if not names:
        return {}
    conn.execute(
        "INSERT INTO push_pings (target) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
        (names,),
    )
    rows = conn.execute(
        "SELECT target, watch_since, last_ping_at, missed_through FROM push_pings "
        "WHERE target = ANY(%s)",
        (names,),
    ).fetchall()
    return {row[0]: PingState(row[1], row[2], row[3]) for row in rows}


def note_missed(conn: psycopg.Connection, target: str, through: datetime) -> None:
    """Kafka acknowledged the down results of the periods expected up to `through`."""
    conn.execute(
        "UPDATE push_pings SET missed_through = GREATEST(missed_through, %s) WHERE target = %s",
        (through, target),
    )
