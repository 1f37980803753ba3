"""Known data sets in `checks` for the rollup, report and web tests.

Rows go in with a plain INSERT (the store's batch path is not what these tests are
about), creating the daily partition a row needs the way the store names them; the
`targets` rows of their targets (the current status every reader shows) are then
made from all their checks, as the store leaves them (`store_targets`).
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
    details: dict[str, object] | None = None  # the result's `details`, as jsonb


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


def insert_checks(
    conn: psycopg.Connection, checks: Iterable[Check], *, with_targets: bool = True
) -> int:
    """The checks, and (`with_targets`) their targets' rows as the store leaves them."""
    rows = list(checks)
    ensure_partitions(conn, {c.checked_at.astimezone(UTC).date() for c in rows})
    with conn.transaction(), conn.cursor() as cur:
        # `probe` and `details` only when a check has them: a schema from before those
        # columns holds HTTP.
        with_probe = any(c.probe for c in rows)
        with_details = any(c.details is not None for c in rows)
        extra = [name for name, used in (("probe", with_probe), ("details", with_details)) if used]
        probe_column = "".join(f", {name}" for name in extra)
        probe_value = ", %s" * len(extra)
        cur.executemany(
            "INSERT INTO checks (id, target, url, monitor, checked_at, ok, status_code, "
            "response_time_ms, resolve_ms, connect_ms, tls_ms, processing_ms, transfer_ms, "
            f"tls_expires_at, error_kind, error_message{probe_column}) "
            "VALUES (%s, %s, %s, 'test', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s"
            f"{probe_value})",
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
                    *([c.probe] if with_probe else []),
                    *([None if c.details is None else Jsonb(c.details)] if with_details else []),
                )
                for c in rows
            ],
        )
    if with_targets:
        store_targets(conn, (c.target for c in rows))
    return len(rows)


# What the store's upserts leave in `targets` once it has written these checks (without
# the lag of `last_seen`): the newest check, the first check after the newest of the
# other status, the latest certificate expiry seen. Values are taken as they are.
_STORE_TARGETS = """
INSERT INTO targets AS t (target, url, first_seen, last_seen, last_ok, last_status_code,
    last_error_kind, last_error_message, last_monitor, last_check_id, status_since,
    last_response_time_ms, tls_expires_at{last_probe})
SELECT n.target, c.url, f.first_seen, c.checked_at, c.ok, c.status_code, c.error_kind,
    c.error_message, c.monitor, c.id,
    coalesce((SELECT min(s.checked_at) FROM checks s
              WHERE s.target = n.target AND s.checked_at > o.at), f.first_seen),
    c.response_time_ms,
    (SELECT e.tls_expires_at FROM checks e WHERE e.target = n.target
       AND e.tls_expires_at IS NOT NULL ORDER BY e.checked_at DESC LIMIT 1){c_probe}
FROM unnest(%s::text[]) AS n(target)
CROSS JOIN LATERAL (SELECT * FROM checks c WHERE c.target = n.target
                    ORDER BY c.checked_at DESC LIMIT 1) AS c
CROSS JOIN LATERAL (SELECT min(checked_at) AS first_seen FROM checks
                    WHERE target = n.target) AS f
CROSS JOIN LATERAL (SELECT max(checked_at) AS at FROM checks
                    WHERE target = n.target AND ok <> c.ok) AS o
ON CONFLICT (target) DO UPDATE SET
    (url, first_seen, last_seen, last_ok, last_status_code, last_error_kind,
     last_error_message, last_monitor, last_check_id, status_since, last_response_time_ms,
     tls_expires_at{last_probe}, updated_at)
  = (EXCLUDED.url, EXCLUDED.first_seen, EXCLUDED.last_seen, EXCLUDED.last_ok,
     EXCLUDED.last_status_code, EXCLUDED.last_error_kind, EXCLUDED.last_error_message,
     EXCLUDED.last_monitor, EXCLUDED.last_check_id, EXCLUDED.status_since,
     EXCLUDED.last_response_time_ms, EXCLUDED.tls_expires_at{excluded_probe}, now())
"""


def store_targets(conn: psycopg.Connection, targets: Iterable[str]) -> None:
    """The `targets` rows of these targets, made from all their checks."""
    has_probe = conn.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = 'targets' AND column_name = 'last_probe'"
    ).fetchone()
    query = _STORE_TARGETS.format(
        last_probe=", last_probe" if has_probe else "",
        c_probe=", c.probe" if has_probe else "",
        excluded_probe=", EXCLUDED.last_probe" if has_probe else "",
    )
    with conn.transaction():
        conn.execute(query, (sorted(set(targets)),))


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
    store_targets(conn, (str(r["target"]) for r in rows))
    return len(rows)
