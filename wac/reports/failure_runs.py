"""Failure runs: stretches of consecutive failed checks of one target, from the history.

A failure run starts at a failed check and ends at the next successful one; the cause
is its first failure's kind and message. It is not an incident: incidents are the
down periods `wac alert` decides with its thresholds and quorum of locations (the
`incidents` table, shown by the status pages and notified). One failed check is a
failure run of one check, and never an incident with the default thresholds. The
dashboard's target page shows both, each under its own name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from wac.reports.queries import Snapshot, json_time
from wac.rollups.tiers import MINUTE


@dataclass
class FailureRun:
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


def failure_runs(
    conn: psycopg.Connection,
    snap: Snapshot,
    target: str,
    start: datetime,
    end: datetime,
    max_raw_rows: int = 200_000,
) -> tuple[list[FailureRun], list[FailedCheck]]:
    """Failure runs of one target in [start, end), newest first, and its failed checks.

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
    found: list[FailureRun] = []
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
        current: FailureRun | None = None
        for checked_at, ok, status_code, kind, message in rows:
            if not ok:
                errors.append(FailedCheck(checked_at, status_code, kind, message))
                if current is None:
                    current = FailureRun(checked_at, None, 0, kind, message)
                    found.append(current)
                current.checks += 1
            elif current is not None:
                current.end = checked_at
                current = None
        if budget <= 0:
            break
    # Stretches that touch each other across ranges were split: merge them.
    merged: list[FailureRun] = []
    for run in found:
        if merged and merged[-1].end is None and run.start >= merged[-1].start:
            merged[-1].checks += run.checks
            merged[-1].end = run.end
        else:
            merged.append(run)
    merged.reverse()
    errors.reverse()
    return merged, errors


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)
