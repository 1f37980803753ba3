"""Incidents: the down periods `wac alert` recorded (its `incidents` table).

An incident is what the alerts decided with their thresholds and quorum of locations,
and what people were notified of; the status pages and the dashboard show these. A
stretch of failed checks is a failure run (wac/reports/failure_runs.py), not an
incident. Without `wac alert` there are no incidents.

Rows are read defensively (an end before the start, a cause of a megabyte), and a
cause never shows a URL's user and password.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from wac.reports.queries import json_time

CAUSE_CHARS = 300
_USERINFO = re.compile(r"(://)[^/?#@\s]*@")


@dataclass(frozen=True)
class Incident:
    target: str
    started: datetime
    ended: datetime | None  # None: still open
    cause: str

    def to_json(self, now: datetime) -> dict[str, Any]:
        end = self.ended if self.ended is not None else now
        return {
            "target": self.target,
            "start": json_time(self.started),
            "end": json_time(self.ended),
            "ongoing": self.ended is None,
            "duration_s": round(max(0.0, (end - self.started).total_seconds()), 1),
            "cause": self.cause,
        }


def incidents(
    conn: psycopg.Connection,
    targets: Sequence[str],
    since: datetime,
    now: datetime,
    limit: int,
) -> list[Incident]:
    """The incidents of these targets that were open at some time in [since, now],
    newest first, at most `limit`."""
    rows = conn.execute(
        "SELECT target, started, ended, left(cause, %(n)s) FROM incidents "
        "WHERE target = ANY(%(targets)s) AND started <= %(now)s "
        "AND (ended IS NULL OR ended >= %(since)s) ORDER BY started DESC LIMIT %(limit)s",
        {"targets": list(targets), "now": now, "since": since, "n": CAUSE_CHARS, "limit": limit},
    ).fetchall()
    return [
        Incident(target, started, ended, _USERINFO.sub(r"\1***@", cause or ""))
        for target, started, ended, cause in rows
    ]
