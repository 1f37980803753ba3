"""What a public status page and a badge show, read from the rollups, the targets'
current status, the alerts' incidents and the page's notices (synchronous; `wac web`
runs it in threads).

Every query names the page's own targets: nothing of another target is read, so
nothing of it can be shown. The readers are the dashboard's (wac.reports), which read
any row the tables can hold; notices are read as defensively (an end before the start,
a text of a megabyte).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from wac.pages.config import StatusPage
from wac.pages.notices import iso, page_notices
from wac.reports.aggregate import Aggregate
from wac.reports.incidents import incidents as recorded_incidents
from wac.reports.queries import aggregate, snapshot, summaries
from wac.reports.status import Status, cert_days_left, current_status
from wac.reports.window import plan_window
from wac.rollups.tiers import DAY, HOUR, floor_to

# What the page shows (90 days; 30 on a phone) and the 24 hours of its response time.
UPTIME_WINDOWS = {
    "24h": timedelta(hours=24),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
DAYS_SHOWN = 90
HOURS_SHOWN = 24
INCIDENT_HISTORY = timedelta(days=90)
INCIDENTS_SHOWN = 100


def page_view(conn: psycopg.Connection, page: StatusPage) -> dict[str, Any]:
    """The JSON behind /status/SLUG (and its feed): the page's targets only."""
    ids = list(page.target_ids)
    with conn.transaction():
        snap = snapshot(conn)
        now = snap.now
        status = current_status(conn, ids)
        uptime = {
            label: summaries(conn, snap, now - span, now, ids)
            for label, span in UPTIME_WINDOWS.items()
        }
        first_day = floor_to(now, DAY) - DAY * (DAYS_SHOWN - 1)
        day_pieces = plan_window(
            first_day, now, snap.watermark, snap.minute_horizon, coarsest="day"
        )
        days = aggregate(conn, day_pieces, ids, DAY)
        first_hour = floor_to(now, HOUR) - HOUR * (HOURS_SHOWN - 1)
        hour_pieces = plan_window(
            first_hour, now, snap.watermark, snap.minute_horizon, coarsest="hour"
        )
        hours = aggregate(conn, hour_pieces, ids, HOUR)
        incidents = recorded_incidents(conn, ids, now - INCIDENT_HISTORY, now, INCIDENTS_SHOWN)
        notices = page_notices(conn, page.slug, now)
    labels: dict[str, str] = {}  # the first listing's label wins
    for group in page.groups:
        for listed in group.targets:
            labels.setdefault(listed.id, listed.shown_as)

    def target_json(target: str, label: str) -> dict[str, Any]:
        s = status.get(target) or Status(target)
        day24 = uptime["24h"].get(target, Aggregate())
        return {
            "id": target,
            "label": label,
            "status": s.state,
            "since": iso(s.since),
            "last_checked_at": iso(s.last_checked_at),
            "response_time_ms": _round(s.response_time_ms),
            "avg_24h_ms": _round(day24.avg_ms),
            "p95_24h_ms": _round(day24.p(0.95)),
            "uptime": {
                w: _round(agg[target].uptime_pct, 4) if target in agg else None
                for w, agg in uptime.items()
            },
            "days": [
                _bin(days.get((target, first_day + DAY * i)), first_day + DAY * i, True)
                for i in range(DAYS_SHOWN)
            ],
            "hours": [
                _bin(hours.get((target, first_hour + HOUR * i)), first_hour + HOUR * i, False)
                for i in range(HOURS_SHOWN)
            ],
        }

    groups = [
        {"name": g.name, "targets": [target_json(t.id, t.shown_as) for t in g.targets]}
        for g in page.groups
    ]
    states = [status[t].state if t in status else None for t in ids]
    return {
        "page": {"slug": page.slug, "title": page.title, "description": page.description},
        "generated_at": iso(now),
        "overall": _overall(states),
        "groups": groups,
        "incidents": [
            {"target": i.target, "label": labels[i.target], **i.to_json(now)} for i in incidents
        ],
        "notices": [n.to_json(now) for n in notices],
    }


def _bin(agg: Aggregate | None, start: datetime, is_day: bool) -> dict[str, Any]:
    key = "day" if is_day else "t"
    when = start.date().isoformat() if is_day else iso(start)
    if agg is None or agg.checks == 0:
        return {key: when, "checks": 0, "failures": 0, "uptime_pct": None, "avg_ms": None}
    return {
        key: when,
        "checks": agg.checks,
        "failures": agg.failures,
        "uptime_pct": _round(agg.uptime_pct, 4),
        "avg_ms": _round(agg.avg_ms),
    }


def _overall(states: list[str | None]) -> dict[str, Any]:
    up = states.count("up")
    down = states.count("down")
    unknown = len(states) - up - down
    if down == 0:
        state = "operational" if up else "unknown"
    else:
        state = "major_outage" if up == 0 else "partial_outage"
    return {"state": state, "up": up, "down": down, "unknown": unknown}


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


# --------------------------------------------------------------------------- badges


@dataclass(frozen=True)
class BadgeFacts:
    status: str | None  # up, down, or None (no checks)
    window: Aggregate | None  # over the badge's window, when it has one
    cert_days_left: float | None


def badge_facts(
    conn: psycopg.Connection, target: str, window: timedelta | None, kind: str
) -> BadgeFacts:
    """What one badge needs of one target (only the queries its kind needs)."""
    with conn.transaction():
        snap = snapshot(conn)
        status: Status | None = None
        if kind in ("status", "certificate"):
            status = current_status(conn, [target]).get(target) or Status(target)
        agg = None
        if window is not None:
            agg = summaries(conn, snap, snap.now - window, snap.now, [target]).get(
                target, Aggregate()
            )
    return BadgeFacts(
        status=status.state if status is not None else None,
        window=agg,
        cert_days_left=(
            cert_days_left(status.tls_expires_at, snap.now) if status is not None else None
        ),
    )
