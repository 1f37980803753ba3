"""The SQL behind `wac report` and `wac web`.

Everything reads one consistent snapshot (call inside a REPEATABLE READ transaction):
the rollup watermark, the rollup tiers before it and raw `checks` rows after it. Each
lookup of "the latest X of a target" goes through a rollup index first, so that it
touches one or two daily partitions of `checks`, never all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from wac.reports.aggregate import Aggregate
from wac.reports.window import Piece, plan_window
from wac.result import iso_utc
from wac.rollups.tiers import (
    MINUTE,
    TIER_TABLES,
    TIERS,
    raw_aggregates,
    raw_source,
    sane_expiry,
    sane_ms,
    tier_sums,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Snapshot:
    watermark: datetime | None
    minute_horizon: datetime | None
    now: datetime


def snapshot(conn: psycopg.Connection) -> Snapshot:
    row = conn.execute("SELECT watermark, minute_horizon, now() FROM rollup_state").fetchone()
    if row is None:
        now = conn.execute("SELECT now()").fetchone()
        assert now is not None
        return Snapshot(None, None, now[0])
    return Snapshot(row[0], row[1], row[2])


def _targets_sql(targets: Sequence[str] | None, column: str = "target") -> sql.Composable:
    if targets is None:
        return sql.SQL("true")
    return sql.SQL("{} = ANY({})").format(sql.Identifier(column), sql.Literal(list(targets)))


def _piece_sql(piece: Piece, targets: Sequence[str] | None, step: timedelta | None) -> sql.Composed:
    tf = _targets_sql(targets)
    time_col = "checked_at" if piece.source == "raw" else "bucket"
    if step is None:
        group: sql.Composable = sql.SQL("NULL::timestamptz")
    else:
        group = sql.SQL("date_bin({}, {}, {})").format(
            sql.Literal(step), sql.Identifier(time_col), sql.Literal(EPOCH)
        )
    if piece.source == "raw":
        where = sql.SQL("checked_at >= {} AND checked_at < {} AND {}").format(
            sql.Literal(piece.start), sql.Literal(piece.end), tf
        )
        return sql.SQL("SELECT target, {} AS bin, {} FROM {} GROUP BY 1, 2").format(
            group, raw_aggregates(), raw_source(where)
        )
    return sql.SQL(
        "SELECT target, {} AS bin, {} FROM {} WHERE bucket >= {} AND bucket < {} AND {} "
        "GROUP BY 1, 2"
    ).format(
        group,
        tier_sums(),
        sql.Identifier(TIER_TABLES[piece.source]),
        sql.Literal(piece.start),
        sql.Literal(piece.end),
        tf,
    )


def aggregate(
    conn: psycopg.Connection,
    pieces: Sequence[Piece],
    targets: Sequence[str] | None = None,
    step: timedelta | None = None,
) -> dict[tuple[str, datetime | None], Aggregate]:
    """Sum the pieces per target (and per `step` bin when given)."""
    if not pieces:
        return {}
    union = sql.SQL(" UNION ALL ").join(_piece_sql(p, targets, step) for p in pieces)
    query = sql.SQL("SELECT target, bin, {} FROM ({}) AS p GROUP BY 1, 2").format(
        tier_sums("p"), union
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query)
        return {(r["target"], r["bin"]): Aggregate.from_row(r) for r in cur}


def summaries(
    conn: psycopg.Connection,
    snap: Snapshot,
    start: datetime,
    end: datetime,
    targets: Sequence[str] | None = None,
) -> dict[str, Aggregate]:
    pieces = plan_window(start, end, snap.watermark, snap.minute_horizon)
    return {t: agg for (t, _), agg in aggregate(conn, pieces, targets).items()}


def series(
    conn: psycopg.Connection,
    snap: Snapshot,
    target: str,
    start: datetime,
    end: datetime,
    step: timedelta,
) -> list[tuple[datetime, Aggregate]]:
    """Per-`step` aggregates of one target (bins aligned to the epoch, UTC)."""
    fitting = [t for t, unit in TIERS.items() if step % unit == timedelta(0)]
    coarsest = max(fitting, key=lambda t: TIERS[t])
    pieces = plan_window(start, end, snap.watermark, snap.minute_horizon, coarsest=coarsest)
    rows = aggregate(conn, pieces, [target], step)
    return sorted(((b, agg) for (_, b), agg in rows.items() if b is not None), key=lambda x: x[0])


# --------------------------------------------------------------------------- targets


def list_targets(
    conn: psycopg.Connection, snap: Snapshot, targets: Sequence[str] | None = None
) -> dict[str, str]:
    """target → url of every target known to the rollups or in the raw tail."""
    found: dict[str, str] = {}
    for target, url in conn.execute(
        sql.SQL("SELECT target, url FROM rollup_targets WHERE {}").format(_targets_sql(targets))
    ):
        found[target] = url
    tail_from = snap.watermark or datetime.min.replace(tzinfo=UTC)
    for target, url in conn.execute(
        sql.SQL(
            "SELECT DISTINCT ON (target) target, url FROM checks WHERE checked_at >= {} AND {} "
            "ORDER BY target, checked_at DESC"
        ).format(sql.Literal(tail_from), _targets_sql(targets))
    ):
        found[target] = url
    return found


@dataclass
class Status:
    target: str
    last_checked_at: datetime | None = None
    ok: bool | None = None
    status_code: int | None = None
    response_time_ms: float | None = None
    error_kind: str | None = None
    error_message: str | None = None
    since: datetime | None = None
    tls_expires_at: datetime | None = None
    probe: str | None = None  # of the latest check (http, tcp, tls, dns, icmp, push)

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "probe": self.probe,
            "status": None if self.ok is None else ("up" if self.ok else "down"),
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


def json_time(value: datetime | None) -> str | None:
    """A time in the JSON answers: as results write it (`iso_utc`); None stays null."""
    return None if value is None else iso_utc(value)


# The newest rolled-up bucket of each target tells where its latest raw check is, so
# the raw lookup touches one or two daily partitions.
_LATEST = """
SELECT t.target, c.checked_at, c.ok, c.status_code, {rt}, c.error_kind,
  c.error_message, {expiry}, c.probe
FROM unnest(%(targets)s::text[]) AS t(target)
CROSS JOIN LATERAL (SELECT coalesce(
  (SELECT max(bucket) FROM rollup_minute r WHERE r.target = t.target AND r.bucket < %(asof)s),
  (SELECT max(bucket) FROM rollup_hour r WHERE r.target = t.target AND r.bucket < %(asof)s),
  (SELECT max(bucket) FROM rollup_day r WHERE r.target = t.target AND r.bucket < %(asof)s),
  %(wm)s) AS lo) AS b
JOIN LATERAL (SELECT * FROM checks c WHERE c.target = t.target
  AND c.checked_at >= b.lo AND c.checked_at < %(asof)s
  ORDER BY c.checked_at DESC LIMIT 1) AS c ON true
"""

# Newest check of the opposite status: in the raw tail, else the newest bucket of each
# tier that has one (partial index for "has failures"; the PK walk for "has successes"
# stops at the first bucket that matches).
_OPPOSITE = """
SELECT t.target,
  (SELECT max(c.checked_at) FROM checks c WHERE c.target = t.target
     AND c.checked_at >= %(wm)s AND c.checked_at < t.at AND {raw}) AS tail,
  (SELECT max(bucket) FROM rollup_minute r WHERE r.target = t.target
     AND r.bucket < least(%(wm)s, t.at) AND {tier}) AS m,
  (SELECT max(bucket) FROM rollup_hour r WHERE r.target = t.target
     AND r.bucket < least(%(hz)s, t.at) AND {tier}) AS h
FROM unnest(%(targets)s::text[], %(ats)s::timestamptz[]) AS t(target, at)
"""

# Refine to the raw check: the newest opposite in [lo, hi), then the first check after it.
_REFINE = """
SELECT t.target, o.opp, (SELECT min(c.checked_at) FROM checks c WHERE c.target = t.target
     AND c.checked_at > o.opp AND c.checked_at <= least(t.at, o.opp + interval '1 day')) AS since
FROM unnest(%(targets)s::text[], %(los)s::timestamptz[], %(his)s::timestamptz[],
            %(ats)s::timestamptz[]) AS t(target, lo, hi, at)
CROSS JOIN LATERAL (SELECT max(c.checked_at) AS opp FROM checks c WHERE c.target = t.target
     AND c.checked_at >= t.lo AND c.checked_at < least(t.hi, t.at) AND {raw}) AS o
"""

_FIRST_SEEN = """
SELECT t.target, coalesce(
  (SELECT first_seen FROM rollup_targets r WHERE r.target = t.target),
  (SELECT min(checked_at) FROM checks c WHERE c.target = t.target AND c.checked_at >= %(wm)s))
FROM unnest(%(targets)s::text[]) AS t(target)
"""

_CERT = """
SELECT t.target, coalesce(
  (SELECT {c_expiry} FROM checks c WHERE c.target = t.target AND c.checked_at >= %(wm)s
     AND c.checked_at < %(asof)s AND c.tls_expires_at IS NOT NULL AND {c_expiry} IS NOT NULL
     ORDER BY c.checked_at DESC LIMIT 1),
  (SELECT {r_expiry} FROM rollup_minute r WHERE r.target = t.target
     AND r.bucket < least(%(wm)s, %(asof)s) AND r.tls_expires_at IS NOT NULL
     AND {r_expiry} IS NOT NULL ORDER BY r.bucket DESC LIMIT 1),
  (SELECT {r_expiry} FROM rollup_hour r WHERE r.target = t.target
     AND r.bucket < least(%(wm)s, %(asof)s) AND r.tls_expires_at IS NOT NULL
     AND {r_expiry} IS NOT NULL ORDER BY r.bucket DESC LIMIT 1))
FROM unnest(%(targets)s::text[]) AS t(target)
"""
# Values out of the v1 range (rows from before the store refused them) read as unknown.
_LATEST_SQL = sql.SQL(_LATEST).format(
    rt=sane_ms(sql.Identifier("c", "response_time_ms")),
    expiry=sane_expiry(sql.Identifier("c", "tls_expires_at")),
)
_CERT_SQL = sql.SQL(_CERT).format(
    c_expiry=sane_expiry(sql.Identifier("c", "tls_expires_at")),
    r_expiry=sane_expiry(sql.Identifier("r", "tls_expires_at")),
)


def latest_status(
    conn: psycopg.Connection, snap: Snapshot, targets: Sequence[str], as_of: datetime
) -> dict[str, Status]:
    """Latest check of each target before `as_of`, since when its status holds, and the
    latest certificate expiry seen."""
    names = list(targets)
    wm = snap.watermark or datetime.min.replace(tzinfo=UTC)
    hz = snap.minute_horizon or datetime.min.replace(tzinfo=UTC)
    params: dict[str, Any] = {"targets": names, "asof": as_of, "wm": wm, "hz": hz}
    out = {t: Status(t) for t in names}
    for row in conn.execute(_LATEST_SQL, params):
        s = out[row[0]]
        s.last_checked_at, s.ok, s.status_code, s.response_time_ms = row[1:5]
        s.error_kind, s.error_message, s.tls_expires_at = row[5:8]
        s.probe = row[8] or "http"  # NULL: a result without the field, made by HTTP
    for ok in (True, False):
        group = [s for s in out.values() if s.ok is ok]
        if group:
            _fill_since(conn, group, ok, wm, hz)
    for target, expires in conn.execute(_CERT_SQL, params):
        out[target].tls_expires_at = out[target].tls_expires_at or expires
    return out


def _fill_since(
    conn: psycopg.Connection, group: list[Status], ok: bool, wm: datetime, hz: datetime
) -> None:
    raw = sql.SQL("NOT c.ok" if ok else "c.ok")
    tier = sql.SQL("r.failures > 0" if ok else "r.failures < r.checks")
    params: dict[str, Any] = {
        "targets": [s.target for s in group],
        "ats": [s.last_checked_at for s in group],
        "wm": wm,
        "hz": hz,
    }
    by_name = {s.target: s for s in group}
    ranges: dict[str, tuple[datetime, datetime]] = {}
    for target, tail, m, h in conn.execute(sql.SQL(_OPPOSITE).format(raw=raw, tier=tier), params):
        if tail is not None:
            ranges[target] = (tail, tail + timedelta(microseconds=1))
        elif m is not None:
            ranges[target] = (m, m + MINUTE)
        elif h is not None:
            ranges[target] = (h, h + TIERS["hour"])
    if ranges:
        names = list(ranges)
        refine = {
            "targets": names,
            "los": [ranges[n][0] for n in names],
            "his": [ranges[n][1] for n in names],
            "ats": [by_name[n].last_checked_at for n in names],
        }
        for target, opp, since in conn.execute(sql.SQL(_REFINE).format(raw=raw), refine):
            # Raw rows gone (retention): the end of the rollup bucket is the best we know.
            by_name[target].since = since or (ranges[target][1] if opp is None else opp)
    rest = [s.target for s in group if s.target not in ranges]
    if rest:
        for target, first in conn.execute(_FIRST_SEEN, {"targets": rest, "wm": wm}):
            by_name[target].since = first


# --------------------------------------------------------------------------- incidents


@dataclass
class Incident:
    start: datetime
    end: datetime | None  # None: still down
    checks: int
    kind: str | None
    message: str | None

    def to_json(self, now: datetime) -> dict[str, Any]:
        end = self.end or now
        return {
            "start": json_time(self.start),
            "end": json_time(self.end),
            "ongoing": self.end is None,
            "duration_s": round((end - self.start).total_seconds(), 1),
            "failed_checks": self.checks,
            "cause": {"kind": self.kind, "message": self.message},
        }


@dataclass
class FailedCheck:
    checked_at: datetime
    status_code: int | None
    kind: str | None
    message: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "checked_at": json_time(self.checked_at),
            "status_code": self.status_code,
            "kind": self.kind,
            "message": self.message,
        }


def incidents(
    conn: psycopg.Connection,
    snap: Snapshot,
    target: str,
    start: datetime,
    end: datetime,
    max_raw_rows: int = 200_000,
) -> tuple[list[Incident], list[FailedCheck]]:
    """Down periods of one target in [start, end), newest first, and its failed checks.

    The minute rollups (partial index on failing minutes) say where failures are; raw
    rows are read only there, from the first failing minute of a stretch to the first
    success after it, so a target that is always up costs one index probe.
    """
    wm = snap.watermark or start
    bounds = conn.execute(
        "SELECT min(bucket), max(bucket) FROM rollup_minute WHERE target = %s AND failures > 0 "
        "AND bucket >= %s AND bucket < %s",
        (target, floor_minute(start), min(end, wm)),
    ).fetchone()
    # Stretches of minutes with failures, broken by any minute without one.
    ranges: list[tuple[datetime, datetime]] = []
    if bounds is not None and bounds[0] is not None:
        previous_failed = False
        for bucket, failures in conn.execute(
            "SELECT bucket, failures FROM rollup_minute WHERE target = %s "
            "AND bucket >= %s AND bucket <= %s ORDER BY bucket",
            (target, bounds[0], bounds[1]),
        ):
            if failures > 0:
                if previous_failed:
                    ranges[-1] = (ranges[-1][0], bucket + MINUTE)
                else:
                    ranges.append((bucket, bucket + MINUTE))
            previous_failed = failures > 0
    if end > wm:  # the raw tail is always read
        if ranges and ranges[-1][1] >= wm:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((max(start, wm), end))
    found: list[Incident] = []
    errors: list[FailedCheck] = []
    budget = max_raw_rows
    for lo, hi in ranges:
        lo = max(lo, start)
        rows = conn.execute(
            "(SELECT checked_at, ok, status_code, error_kind, error_message FROM checks "
            " WHERE target = %(t)s AND checked_at >= %(lo)s AND checked_at < %(hi)s "
            " ORDER BY checked_at LIMIT %(n)s) "
            "UNION ALL "
            "(SELECT checked_at, ok, status_code, error_kind, error_message FROM checks "
            " WHERE target = %(t)s AND checked_at >= %(hi)s AND checked_at < %(end)s AND ok "
            " AND checked_at < %(hi)s + interval '1 day' ORDER BY checked_at LIMIT 1)",
            {"t": target, "lo": lo, "hi": hi, "end": end, "n": budget},
        ).fetchall()
        budget -= len(rows)
        current: Incident | None = None
        for checked_at, ok, status_code, kind, message in rows:
            if not ok:
                errors.append(FailedCheck(checked_at, status_code, kind, message))
                if current is None:
                    current = Incident(checked_at, None, 0, kind, message)
                    found.append(current)
                current.checks += 1
            elif current is not None:
                current.end = checked_at
                current = None
        if budget <= 0:
            break
    # Stretches that touch each other across ranges were split: merge them.
    merged: list[Incident] = []
    for inc in found:
        if merged and merged[-1].end is None and inc.start >= merged[-1].start:
            merged[-1].checks += inc.checks
            merged[-1].end = inc.end
        else:
            merged.append(inc)
    merged.reverse()
    errors.reverse()
    return merged, errors


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)
