"""The JSON behind each page of the dashboard (synchronous; the app runs it in threads)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from wac.reports.aggregate import Aggregate
from wac.reports.failure_runs import failure_runs
from wac.reports.incidents import incidents
from wac.reports.queries import (
    Snapshot,
    counts_sql,
    json_time,
    series,
    snapshot,
    summaries,
    uptime_counts,
)
from wac.reports.status import Status, current_status
from wac.reports.window import plan_window
from wac.rollups.tiers import DAY, HOUR, floor_to, sane_expiry, sane_ms
from wac.web.overview_query import STATUSES, OverviewQuery
from wac.web.probe_view import latest_check, phases_shown

UPTIME_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
# Chart range → bin width.
RANGES = {
    "1h": (timedelta(hours=1), timedelta(minutes=1)),
    "24h": (timedelta(hours=24), timedelta(minutes=5)),
    "7d": (timedelta(days=7), timedelta(hours=1)),
    "30d": (timedelta(days=30), timedelta(hours=6)),
}
DAYS_SHOWN = 90
HISTORY_WINDOW = timedelta(days=30)  # of the incidents, failure runs and errors shown
ERRORS_SHOWN = 20
INCIDENTS_SHOWN = 50
FAILURE_RUNS_SHOWN = 50


class NotFound(Exception):
    pass


def _uptimes(
    conn: psycopg.Connection, snap: Any, names: list[str] | None
) -> dict[str, dict[str, Aggregate]]:
    out: dict[str, dict[str, Aggregate]] = {}
    for label, span in UPTIME_WINDOWS.items():
        for target, agg in summaries(conn, snap, snap.now - span, snap.now, names).items():
            out.setdefault(target, {})[label] = agg
    return out


def overview(conn: psycopg.Connection, query: OverviewQuery | None = None) -> dict[str, Any]:
    """One page of the overview: the targets that match the query's search and status
    filter, in its order. Searching, filtering, sorting and counting read the `targets`
    table (one row per target); a sort by uptime adds that window's check and failure
    counts of every target (two columns of the rollups); the page's rows then get their
    figures (uptimes, 24 h p95) from the rollups of those targets only."""
    query = query or OverviewQuery()
    with conn.transaction():
        snap = snapshot(conn)
        counts, total = _counts(conn, query)
        names = _page(conn, snap, query)
        status = current_status(conn, names) if names else {}
        uptimes = {
            label: uptime_counts(conn, snap, overview_start(snap.now, span), snap.now, names)
            if names
            else {}
            for label, span in UPTIME_WINDOWS.items()
        }
        day = summaries(conn, snap, snap.now - DAY, snap.now, names) if names else {}
    rows = []
    for name in names:
        current = status.get(name) or Status(name)
        entry: dict[str, Any] = {"target": name, "url": current.url}
        entry.update(current.to_json(snap.now))
        entry["uptime"] = {
            label: _round(_uptime_pct(uptimes[label].get(name))) for label in UPTIME_WINDOWS
        }
        agg = day.get(name)
        entry["checks_24h"] = agg.checks if agg else 0
        entry["p95_24h_ms"] = _round(agg.p(0.95) if agg else None)
        rows.append(entry)
    return {
        "generated_at": json_time(snap.now),
        "rollup_watermark": json_time(snap.watermark),
        "counts": counts,
        "total": total,
        "pages": max(1, -(-total // query.limit)),
        "query": query.to_json(),
        "targets": rows,
    }


def overview_start(now: datetime, span: timedelta) -> datetime:
    """Where the overview's uptime over `span` starts: the hour nearest `now - span`.

    The window then begins on an hour of the rollups, with no minutes to read at its
    start (about 30 rows a target saved per window, on average); its length is within
    half an hour of `span`. The target page's uptimes are exact.
    """
    return floor_to(now - span + HOUR / 2, HOUR)


def _uptime_pct(counts: tuple[int, int] | None) -> float | None:
    if not counts or counts[0] == 0:
        return None
    checks, failures = counts
    return 100.0 * (checks - failures) / checks


def _filter(query: OverviewQuery) -> sql.Composable:
    """The WHERE of the query's search and status filter, over `targets t`."""
    parts: list[sql.Composable] = []
    if query.q:
        needle = sql.Literal(query.q.lower())
        parts.append(
            sql.SQL("(strpos(lower(t.target), {n}) > 0 OR strpos(lower(t.url), {n}) > 0)").format(
                n=needle
            )
        )
    if query.statuses and set(query.statuses) != set(STATUSES):
        states = [STATE_SQL[s] for s in STATUSES if s in query.statuses]
        parts.append(sql.SQL("({})").format(sql.SQL(" OR ").join(states)))
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")


STATE_SQL = {
    "up": sql.SQL("t.last_ok"),
    "down": sql.SQL("NOT t.last_ok"),
    "unknown": sql.SQL("t.last_ok IS NULL"),
}


def _counts(conn: psycopg.Connection, query: OverviewQuery) -> tuple[dict[str, int], int]:
    """The whole fleet's targets by status, and how many match the query."""
    row = conn.execute(
        sql.SQL(
            "SELECT count(*) FILTER (WHERE {up}), count(*) FILTER (WHERE {down}), "
            "count(*) FILTER (WHERE {unknown}), count(*) FILTER (WHERE {match}) FROM targets t"
        ).format(**STATE_SQL, match=_filter(query))
    ).fetchone()
    assert row is not None
    return {"up": row[0], "down": row[1], "unknown": row[2]}, row[3]


# sort → its key over `targets t` (and `u`, the window's counts, for an uptime).
SORT_KEYS: dict[str, sql.Composable] = {
    "status": sql.SQL("CASE WHEN t.last_ok IS NULL THEN 1 WHEN t.last_ok THEN 2 ELSE 0 END"),
    "name": sql.SQL("t.target"),
    "since": sane_expiry(sql.SQL("t.status_since")),
    "checked": sane_expiry(sql.SQL("t.last_seen")),
    "response": sane_ms(sql.SQL("t.last_response_time_ms")),
    "cert": sane_expiry(sql.SQL("t.tls_expires_at")),
}
UPTIME_KEY = sql.SQL("CASE WHEN u.checks > 0 THEN (u.checks - u.failures)::float8 / u.checks END")


def _page(conn: psycopg.Connection, snap: Snapshot, query: OverviewQuery) -> list[str]:
    """The ids of the page's targets, in order; ties by id, unknown values last."""
    direction = sql.SQL("DESC" if query.order == "desc" else "ASC")
    tie = sql.SQL("t.target DESC" if query.order == "desc" and query.sort == "name" else "t.target")
    source: sql.Composable
    key: sql.Composable
    if query.sort.startswith("uptime_"):
        span = UPTIME_WINDOWS[query.sort.removeprefix("uptime_")]
        start = overview_start(snap.now, span)
        pieces = plan_window(start, snap.now, snap.watermark, snap.minute_horizon)
        source = sql.SQL("targets t LEFT JOIN ({}) AS u ON u.target = t.target").format(
            counts_sql(pieces)
        )
        key = UPTIME_KEY
    else:
        source, key = sql.SQL("targets t"), SORT_KEYS[query.sort]
    rows = conn.execute(
        sql.SQL(
            "SELECT t.target FROM {source} WHERE {match} "
            "ORDER BY {key} {direction} NULLS LAST, {tie} LIMIT {limit} OFFSET {offset}"
        ).format(
            source=source,
            match=_filter(query),
            key=key,
            direction=direction,
            tie=tie,
            limit=sql.Literal(query.limit),
            offset=sql.Literal(query.offset),
        )
    ).fetchall()
    return [r[0] for r in rows]


def target_detail(conn: psycopg.Connection, name: str, range_name: str) -> dict[str, Any]:
    span, step = RANGES[range_name]
    with conn.transaction():
        snap = snapshot(conn)
        status = current_status(conn, [name]).get(name)
        if status is None:
            raise NotFound(name)
        uptimes = _uptimes(conn, snap, [name]).get(name, {})
        start = snap.now - span
        summary = summaries(conn, snap, start, snap.now, [name]).get(name, Aggregate())
        points = series(conn, snap, name, floor_to(start, step), snap.now, step)
        first_day = floor_to(snap.now, DAY) - DAY * (DAYS_SHOWN - 1)
        days = dict(series(conn, snap, name, first_day, snap.now, DAY))
        since = snap.now - HISTORY_WINDOW
        recorded = incidents(conn, [name], since, snap.now, INCIDENTS_SHOWN)
        runs, errors = failure_runs(conn, snap, name, since, snap.now)
        latest = latest_check(conn, name)
    result: dict[str, Any] = {"target": name, "url": status.url}
    result.update(status.to_json(snap.now))
    result["uptime"] = {
        label: _round(uptimes[label].uptime_pct if label in uptimes else None)
        for label in UPTIME_WINDOWS
    }
    # Phases some check of the range (or the latest) spent time in; a series bin holds 0
    # for a phase none of its checks had.
    measured = {p for _, agg in points for p, v in agg.phase_avgs().items() if v}
    if latest is not None:
        measured |= {p for p, v in latest["phases"].items() if v is not None}
    result.update(
        {
            "phases_shown": phases_shown(status.probe or "http", measured),
            "latest_check": latest,
            "generated_at": json_time(snap.now),
            "range": range_name,
            "from": json_time(start),
            "to": json_time(snap.now),
            "step_s": int(step.total_seconds()),
            "summary": summary.to_json(),
            "series": [
                {
                    "t": json_time(t),
                    "checks": agg.checks,
                    "failures": agg.failures,
                    "avg_ms": _round(agg.avg_ms),
                    "p95_ms": _round(agg.p(0.95)),
                    "phases": {k: _round(v) for k, v in agg.phase_avgs().items()},
                }
                for t, agg in points
            ],
            "days": [
                {
                    "day": (first_day + DAY * i).date().isoformat(),
                    "checks": days[d].checks if d in days else 0,
                    "failures": days[d].failures if d in days else 0,
                    "uptime_pct": _round(days[d].uptime_pct, 3) if d in days else None,
                }
                for i in range(DAYS_SHOWN)
                for d in [first_day + DAY * i]
            ],
            "incidents": [i.to_json(snap.now) for i in recorded],
            "failure_runs": [r.to_json(snap.now) for r in runs[:FAILURE_RUNS_SHOWN]],
            "errors": [e.to_json() for e in errors[:ERRORS_SHOWN]],
        }
    )
    return result


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def now_utc() -> datetime:
    return datetime.now(UTC)
