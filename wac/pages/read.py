"""What a public status page and a badge show, read from the rollups, the latest checks,
the alerts' `incidents` and the page's notices (synchronous; `wac web` runs it in
threads).

Every query names the page's own targets: nothing of another target is read, so
nothing of it can be shown. The readers are the dashboard's (wac.reports.queries),
which read any row `checks` can hold; incidents and notices are read as defensively
(an end before the start, a cause of a megabyte).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from wac.pages.config import StatusPage
from wac.pages.notices import iso, page_notices
from wac.reports.aggregate import Aggregate
from wac.reports.queries import (
    Status,
    aggregate,
    cert_days_left,
    latest_status,
    list_targets,
    snapshot,
    summaries,
)
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
CAUSE_CHARS = 300
_USERINFO = re.compile(r"(://)[^/?#@\s]*@")


@dataclass(frozen=True)
class PageIncident:
    target: str
    started: datetime
    ended: datetime | None
    cause: str

    def to_json(self, now: datetime, label: str) -> dict[str, Any]:
        end = self.ended if self.ended is not None else now
        return {
            "target": self.target,
            "label": label,
            "start": iso(self.started),
            "end": iso(self.ended),
            "ongoing": self.ended is None,
            "duration_s": round(max(0.0, (end - self.started).total_seconds()), 1),
            "cause": self.cause,
        }


def page_incidents(
    conn: psycopg.Connection, targets: Sequence[str], since: datetime, now: datetime
) -> list[PageIncident]:
    """The alerts' incidents of these targets that were open at some time since `since`,
    newest first."""
    rows = conn.execute(
        "SELECT target, started, ended, left(cause, %(n)s) FROM incidents "
        "WHERE target = ANY(%(targets)s) AND started <= %(now)s "
        "AND (ended IS NULL OR ended >= %(since)s) ORDER BY started DESC LIMIT %(limit)s",
        {
            "targets": list(targets),
            "now": now,
            "since": since,
            "n": CAUSE_CHARS,
            "limit": INCIDENTS_SHOWN,
        },
    ).fetchall()
    return [
        PageIncident(target, started, ended, _USERINFO.sub(r"\1***@", cause or ""))
        for target, started, ended, cause in rows
    ]


def page_view(conn: psycopg.Connection, page: StatusPage) -> dict[str, Any]:
    """The JSON behind /status/SLUG (and its feed): the page's targets only."""
    ids = list(page.target_ids)
    with conn.transaction():
        snap = snapshot(conn)
        now = snap.now
        status = latest_status(conn, snap, ids, now)
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
        incidents = page_incidents(conn, ids, now - INCIDENT_HISTORY, now)
        notices = page_notices(conn, page.slug, now)
    labels: dict[str, str] = {}  # the first listing's label wins
    for group in page.groups:
        for listed in group.targets:
            labels.setdefault(listed.id, listed.shown_as)

    def target_json(target: str, label: str) -> dict[str, Any]:
        s = status[target]
        day24 = uptime["24h"].get(target, Aggregate())
        return {
            "id": target,
            "label": label,
            "status": _state(s),
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
    states = [_state(status[t]) for t in ids]
    return {
        "page": {"slug": page.slug, "title": page.title, "description": page.description},
        "generated_at": iso(now),
        "overall": _overall(states),
        "groups": groups,
        "incidents": [i.to_json(now, labels[i.target]) for i in incidents],
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


def _state(status: Status) -> str | None:
    return None if status.ok is None else ("up" if status.ok else "down")


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


def target_exists(conn: psycopg.Connection, target: str) -> bool:
    with conn.transaction():
        return target in list_targets(conn, snapshot(conn), [target])


def badge_facts(
    conn: psycopg.Connection, target: str, window: timedelta | None, kind: str
) -> BadgeFacts:
    """What one badge needs of one target (only the queries its kind needs)."""
    with conn.transaction():
        snap = snapshot(conn)
        status: Status | None = None
        if kind in ("status", "certificate"):
            status = latest_status(conn, snap, [target], snap.now)[target]
        agg = None
        if window is not None:
            agg = summaries(conn, snap, snap.now - window, snap.now, [target]).get(
                target, Aggregate()
            )
    return BadgeFacts(
        status=_state(status) if status is not None else None,
        window=agg,
        cert_days_left=(
            cert_days_left(status.tls_expires_at, snap.now) if status is not None else None
        ),
    )
