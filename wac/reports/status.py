"""The current status of targets, as the store's `targets` table holds it.

That table is the one answer to "is it up, since when, what failed, which certificate"
for `wac report`, the dashboard and the status pages (the store keeps it in the same
transaction as the checks; see wac/store/target_status.py): one row per target, read
by its key, so it costs the same however long the history is. A change of status is
there as soon as its check is stored; `last_checked_at` and the response time are
those of the newest check the store wrote, at most `WAC_STORE_TARGETS_REFRESH`
(60 s) old. With several monitor locations the newest check of any location wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from wac.reports.queries import json_time
from wac.rollups.tiers import sane_expiry, sane_ms


@dataclass
class Status:
    target: str
    url: str | None = None
    last_checked_at: datetime | None = None
    ok: bool | None = None  # None: no check stored
    status_code: int | None = None
    response_time_ms: float | None = None
    error_kind: str | None = None
    error_message: str | None = None
    since: datetime | None = None
    tls_expires_at: datetime | None = None
    probe: str | None = None  # of the newest check: http, tcp, tls, dns, icmp, push

    @property
    def state(self) -> str | None:
        """`up`, `down`, or None (no check stored)."""
        return None if self.ok is None else ("up" if self.ok else "down")

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "probe": self.probe,
            "status": self.state,
            "last_checked_at": json_time(self.last_checked_at),
            "last_status_code": self.status_code,
            "last_response_time_ms": self.response_time_ms,
            "last_error": (
                {"kind": self.error_kind, "message": self.error_message}
                if self.error_kind or self.error_message
                else None
            ),
            "since": json_time(self.since),
            "tls_expires_at": json_time(self.tls_expires_at),
            "cert_days_left": cert_days_left(self.tls_expires_at, now),
        }


def cert_days_left(expires: datetime | None, now: datetime) -> float | None:
    if expires is None:
        return None
    return round((expires - now).total_seconds() / 86400, 1)


def _column(name: str) -> sql.Identifier:
    return sql.Identifier("t", name)


# The store writes only values of the v1 range; a row written by other means reads its
# out-of-range values as unknown (times Python cannot hold, NaN), as every reader does.
_CURRENT = sql.SQL(
    "SELECT t.target, t.url, {seen}, t.last_ok, t.last_status_code, {rt}, t.last_error_kind, "
    "t.last_error_message, {since}, {expiry}, "
    "CASE WHEN t.last_ok IS NULL THEN NULL ELSE coalesce(t.last_probe, 'http') END "
    "FROM targets t"
).format(
    seen=sane_expiry(_column("last_seen")),
    rt=sane_ms(_column("last_response_time_ms")),
    since=sane_expiry(_column("status_since")),
    expiry=sane_expiry(_column("tls_expires_at")),
)


def current_status(
    conn: psycopg.Connection, targets: Sequence[str] | None = None
) -> dict[str, Status]:
    """target → its current status: of these targets (those with a row), or of all."""
    if targets is None:
        rows = conn.execute(_CURRENT)
    else:
        query = sql.SQL("{} WHERE t.target = ANY(%s)").format(_CURRENT)
        rows = conn.execute(query, (list(targets),))
    return {row[0]: Status(*row) for row in rows}


def target_exists(conn: psycopg.Connection, target: str) -> bool:
    """Whether the store has seen this target."""
    found = conn.execute("SELECT 1 FROM targets WHERE target = %s", (target,)).fetchone()
    return found is not None
