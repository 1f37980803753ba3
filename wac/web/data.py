"""The JSON behind each page of the dashboard (synchronous; the app runs it in threads)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from wac.reports.aggregate import Aggregate
from wac.reports.failure_runs import failure_runs
from wac.reports.incidents import incidents
from wac.reports.queries import json_time, series, snapshot, summaries
from wac.reports.status import current_status
from wac.rollups.tiers import DAY, floor_to
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
STATUS_ORDER = {"down": 0, None: 1, "up": 2}


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


def overview(conn: psycopg.Connection) -> dict[str, Any]:
    with conn.transaction():
        snap = snapshot(conn)
        status = current_status(conn)
        uptimes = _uptimes(conn, snap, None)
    rows = []
    for name in sorted(status):
        entry: dict[str, Any] = {"target": name, "url": status[name].url}
        entry.update(status[name].to_json(snap.now))
        windows = uptimes.get(name, {})
        entry["uptime"] = {
            label: _round(windows[label].uptime_pct if label in windows else None)
            for label in UPTIME_WINDOWS
        }
        day = windows.get("24h")
        entry["checks_24h"] = day.checks if day else 0
        entry["p95_24h_ms"] = _round(day.p(0.95) if day else None)
        rows.append(entry)
    rows.sort(key=lambda r: (STATUS_ORDER.get(r["status"], 1), r["target"]))
    counts = {"up": 0, "down": 0, "unknown": 0}
    for r in rows:
        counts[r["status"] or "unknown"] += 1
    return {
        "generated_at": json_time(snap.now),
        "rollup_watermark": json_time(snap.watermark),
        "counts": counts,
        "targets": rows,
    }


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
