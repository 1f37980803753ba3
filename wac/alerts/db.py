"""PostgreSQL access for `wac alert`: state, offsets, incidents, outbox (bound parameters only).

The consumer writes through `AlertDB` inside one transaction per batch; the delivery
workers use `claim_due`/`mark_*` on their own connections.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from wac.alerts import state as st
from wac.runtime.dead_letters import Rejected, insert_rejected

EVENTS_CHANNEL = "@events"


@dataclass(frozen=True)
class OutboxRow:
    dedup_key: str
    channel: str
    target: str
    incident_id: int | None
    kind: str
    seq: int
    payload: bytes  # JSON


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    target: str
    kind: str
    payload: bytes
    attempts: int
    created_at: datetime


class AlertDB:
    def __init__(self, conn: psycopg.Connection, group: str) -> None:
        self.conn = conn
        self.group = group

    # --- loading ---------------------------------------------------------------
    def load_states(
        self, topic: str, partitions: Iterable[int]
    ) -> dict[str, tuple[int, st.TargetState]]:
        """target -> (partition, state) of every target last seen in these partitions."""
        rows = self.conn.execute(
            'SELECT target, "partition", state::text FROM alert_state'
            ' WHERE consumer_group = %s AND topic = %s AND "partition" = ANY(%s)',
            (self.group, topic, list(partitions)),
        ).fetchall()
        return {target: (int(p), st.load(raw)) for target, p, raw in rows}

    def load_state(self, target: str) -> st.TargetState | None:
        row = self.conn.execute(
            "SELECT state::text FROM alert_state WHERE consumer_group = %s AND target = %s",
            (self.group, target),
        ).fetchone()
        return st.load(row[0]) if row else None

    def load_offsets(self, topic: str, partitions: Iterable[int]) -> dict[int, int]:
        rows = self.conn.execute(
            'SELECT "partition", next_offset FROM alert_offsets'
            ' WHERE consumer_group = %s AND topic = %s AND "partition" = ANY(%s)',
            (self.group, topic, list(partitions)),
        ).fetchall()
        return {int(p): int(o) for p, o in rows}

    def lock_offsets(self, topic: str, partitions: Iterable[int]) -> dict[int, int]:
        """The stored next offsets of these partitions, their rows locked until the
        transaction ends (a second process writing them waits, then sees the new ones)."""
        rows = self.conn.execute(
            'SELECT "partition", next_offset FROM alert_offsets'
            ' WHERE consumer_group = %s AND topic = %s AND "partition" = ANY(%s)'
            ' ORDER BY "partition" FOR UPDATE',
            (self.group, topic, sorted(set(partitions))),
        ).fetchall()
        return {int(p): int(o) for p, o in rows}

    # --- writing (inside the caller's transaction) ----------------------------
    def open_incident(
        self, target: str, started: datetime, cause: str, locations: list[str]
    ) -> int:
        row = self.conn.execute(
            "INSERT INTO incidents (target, started, cause, locations)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            (target, started, cause, locations),
        ).fetchone()
        assert row is not None
        return int(row[0])

    def update_incident_locations(self, incident_id: int, locations: list[str]) -> None:
        self.conn.execute(
            "UPDATE incidents SET locations = %s WHERE id = %s", (locations, incident_id)
        )

    def close_incident(self, incident_id: int, ended: datetime) -> None:
        self.conn.execute("UPDATE incidents SET ended = %s WHERE id = %s", (ended, incident_id))

    def enqueue(self, rows: list[OutboxRow]) -> None:
        if not rows:
            return
        with self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO alert_outbox (consumer_group, dedup_key, channel, target,"
                " incident_id, kind, seq, payload)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)"
                " ON CONFLICT (consumer_group, dedup_key, channel) DO NOTHING",
                [
                    (
                        self.group,
                        r.dedup_key,
                        r.channel,
                        r.target,
                        r.incident_id,
                        r.kind,
                        r.seq,
                        r.payload.decode(),
                    )
                    for r in rows
                ],
            )

    def save_states(self, rows: list[tuple[str, str, int, bytes]]) -> None:
        """(target, topic, partition, state JSON) upserted."""
        if not rows:
            return
        with self.conn.cursor() as cur:
            cur.executemany(
                'INSERT INTO alert_state (consumer_group, target, topic, "partition", state)'
                " VALUES (%s, %s, %s, %s, %s::jsonb)"
                " ON CONFLICT (consumer_group, target) DO UPDATE SET topic = EXCLUDED.topic,"
                ' "partition" = EXCLUDED."partition", state = EXCLUDED.state, updated_at = now()',
                [(self.group, t, topic, p, raw.decode()) for t, topic, p, raw in rows],
            )

    def save_offsets(self, topic: str, offsets: dict[int, int]) -> None:
        if not offsets:
            return
        with self.conn.cursor() as cur:
            cur.executemany(
                'INSERT INTO alert_offsets (consumer_group, topic, "partition", next_offset)'
                ' VALUES (%s, %s, %s, %s) ON CONFLICT (consumer_group, topic, "partition")'
                " DO UPDATE SET next_offset = EXCLUDED.next_offset",
                [(self.group, topic, p, o) for p, o in offsets.items()],
            )

    def reject(self, rejected: Sequence[Rejected]) -> None:
        """Dead letters, as the store writes them: the store's row for the same message,
        written before or after, is the same row (the key is topic, partition, offset)."""
        if rejected:
            with self.conn.cursor() as cur:
                insert_rejected(cur, rejected)


# --- delivery (the outbox workers) -----------------------------------------------
_CLAIM = """
SELECT o.id, o.channel, o.target, o.kind, o.payload::text, o.attempts, o.created_at
FROM alert_outbox o
WHERE o.consumer_group = %(group)s AND o.status = 'pending'
  AND o.next_attempt_at <= now() AND o.channel = ANY(%(channels)s)
  AND NOT EXISTS (
    SELECT 1 FROM alert_outbox e
    WHERE e.consumer_group = o.consumer_group AND e.channel = o.channel
      AND e.target = o.target AND e.status = 'pending' AND e.id < o.id)
ORDER BY o.next_attempt_at, o.id
LIMIT 1
FOR UPDATE OF o SKIP LOCKED
"""


def claim_due(conn: psycopg.Connection, group: str, channels: list[str]) -> Claimed | None:
    """Lock the next deliverable row (in the caller's open transaction), oldest first.

    A row waits while an older row of the same target and channel is pending, so a
    receiver gets DOWN before UP even when DOWN needed retries.
    """
    row: Any = conn.execute(_CLAIM, {"group": group, "channels": channels}).fetchone()
    if row is None:
        return None
    return Claimed(
        id=int(row[0]),
        channel=row[1],
        target=row[2],
        kind=row[3],
        payload=row[4].encode(),
        attempts=int(row[5]),
        created_at=row[6],
    )


def mark_sent(conn: psycopg.Connection, row_id: int) -> None:
    conn.execute(
        "UPDATE alert_outbox SET status = 'sent', sent_at = now(), attempts = attempts + 1,"
        " last_error = NULL WHERE id = %s",
        (row_id,),
    )


def mark_failed(conn: psycopg.Connection, row_id: int, error: str, retry_in: float | None) -> None:
    """Record a failed attempt; retry after `retry_in` seconds, or give up when None."""
    if retry_in is None:
        conn.execute(
            "UPDATE alert_outbox SET status = 'failed', attempts = attempts + 1,"
            " last_error = %s WHERE id = %s",
            (error, row_id),
        )
    else:
        conn.execute(
            "UPDATE alert_outbox SET attempts = attempts + 1, last_error = %s,"
            " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
            (error, retry_in, row_id),
        )
