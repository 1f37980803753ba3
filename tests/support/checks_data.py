"""Known data sets in `checks` for the rollup, report and web tests.

Rows go in with a plain INSERT (the store's batch path is not what these tests are
about), creating the daily partition a row needs the way the store names them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

PARTITION_LOCK_KEY = 0x7761635F706172  # the store's "wac_par" lock


@dataclass
class Check:
    target: str
    checked_at: datetime
    ok: bool = True
    response_time_ms: float | None = 100.0
    error_kind: str | None = None
    error_message: str | None = None
    status_code: int | None = 200
    tls_expires_at: datetime | None = None
    url: str = "http://example.test/"
    phases: dict[str, float | None] = field(default_factory=dict)
    probe: str | None = None  # NULL: http


def up(target: str, at: datetime, rt: float = 100.0, **kw: object) -> Check:
    phases = {"resolve": 1.0, "connect": 2.0, "processing": rt - 4.0, "transfer": 1.0}
    return Check(target, at, True, rt, phases=phases, **kw)  # type: ignore[arg-type]


def down(target: str, at: datetime, kind: str = "timeout", message: str = "timed out") -> Check:
    return Check(target, at, False, None, kind, message, None)


def ensure_partitions(conn: psycopg.Connection, days: Iterable[date]) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK_KEY,))
        existing = {
            row[0]
            for row in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'checks'::regclass"
            )
        }
        for day in sorted(set(days)):
            name = f"checks_p{day:%Y%m%d}"
            if name in existing:
                continue
            start = datetime.combine(day, time(), tzinfo=UTC)
            conn.execute(
                sql.SQL("CREATE TABLE {} PARTITION OF checks FOR VALUES FROM ({}) TO ({})").format(
                    sql.Identifier(name),
                    sql.Literal(start),
                    sql.Literal(start + timedelta(days=1)),
                )
            )


def insert_checks(conn: psycopg.Connection, checks: Iterable[Check]) -> int:
    rows = list(checks)
    ensure_partitions(conn, {c.checked_at.astimezone(UTC).date() for c in rows})
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO checks (id, target, url, monitor, checked_at, ok, status_code, "
            "response_time_ms, resolve_ms, connect_ms, tls_ms, processing_ms, transfer_ms, "
            "tls_expires_at, error_kind, error_message, probe) "
            "VALUES (%s, %s, %s, 'test', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    uuid.uuid4(),
                    c.target,
                    c.url,
                    c.checked_at,
                    c.ok,
                    c.status_code,
                    c.response_time_ms,
                    c.phases.get("resolve"),
                    c.phases.get("connect"),
                    c.phases.get("tls"),
                    c.phases.get("processing"),
                    c.phases.get("transfer"),
                    c.tls_expires_at,
                    c.error_kind,
                    c.error_message,
                    c.probe,
                )
                for c in rows
            ],
        )
    return len(rows)


def prefix() -> str:
    """A target-name prefix of its own for one test (the database is shared)."""
    return f"t-{uuid.uuid4().hex[:8]}-"


RAW_COLUMNS = (
    "id", "target", "url", "monitor", "checked_at", "ok", "status_code", "response_time_ms",
    "resolve_ms", "connect_ms", "tls_ms", "processing_ms", "transfer_ms", "pattern",
    "pattern_matched", "tls_expires_at", "error_kind", "error_message", "final_url", "probe",
    "details",
)  # fmt: skip


def insert_raw(conn: psycopg.Connection, rows: Iterable[dict[str, object]]) -> int:
    """Rows as given, column by column (missing ones NULL, `id` a fresh UUID): any value
    the `checks` table holds, including what the store refuses. `tls_expires_at` may be
    text PostgreSQL reads as a time ('infinity', '294276-12-31 23:59:59+00', ...);
    `details` any JSON value (it goes in as jsonb)."""
    rows = list(rows)
    ensure_partitions(conn, {r["checked_at"].astimezone(UTC).date() for r in rows})  # type: ignore[attr-defined]
    placeholders = ", ".join(
        "%s::timestamptz" if c == "tls_expires_at" else "%s" for c in RAW_COLUMNS
    )
    query = sql.SQL("INSERT INTO checks ({}) VALUES (" + placeholders + ")").format(
        sql.SQL(", ").join(map(sql.Identifier, RAW_COLUMNS))
    )
    defaults = {"id": None, "url": "http://example.test/", "monitor": "test", "ok": True}
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            query,
            [
                tuple(
                    (r.get(c, defaults.get(c)) if c != "id" else r.get("id") or uuid.uuid4())
                    if c != "details"
                    else (None if r.get("details") is None else Jsonb(r["details"]))
                    for c in RAW_COLUMNS
                )
                for r in rows
            ],
        )
    return len(rows)
