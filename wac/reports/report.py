"""`wac report`: per-target summary of a window, as JSON-able data or a text table.

The numbers (checks, failures, uptime, response times) are those of the window; the
status, since when, last error and certificate are the target's current ones (the
store's `targets` table, wac/reports/status.py), whatever the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from wac.reports.aggregate import Aggregate
from wac.reports.queries import json_time, snapshot, summaries
from wac.reports.status import Status, current_status
from wac.safe_text import visible

LAG_WARNING = timedelta(minutes=15)


def build_report(
    conn: psycopg.Connection,
    start: datetime | None,
    end: datetime | None,
    targets: Sequence[str] | None = None,
    since: timedelta | None = None,
) -> dict[str, Any]:
    """The report of [start, end) (or of the last `since`), one consistent snapshot."""
    with conn.transaction():
        snap = snapshot(conn)
        if since is not None:
            start, end = snap.now - since, snap.now
        assert start is not None and end is not None
        end = min(end, snap.now)
        aggs = summaries(conn, snap, start, end, targets)
        names = sorted(set(aggs) | set(targets or ()))
        status = current_status(conn, names) if names else {}
    rows = []
    for name in names:
        current = status.get(name) or Status(name)
        entry: dict[str, Any] = {"target": name, "url": current.url}
        entry.update(aggs.get(name, Aggregate()).to_json())
        entry.update(current.to_json(snap.now))
        rows.append(entry)
    lag = None if snap.watermark is None else (snap.now - snap.watermark).total_seconds()
    return {
        "from": json_time(start),
        "to": json_time(end),
        "generated_at": json_time(snap.now),
        "rollup_watermark": json_time(snap.watermark),
        "rollup_lag_s": None if lag is None else round(lag, 1),
        "targets": rows,
    }


def rollup_lag_note(report: dict[str, Any]) -> str | None:
    lag = report["rollup_lag_s"]
    if lag is not None and lag <= LAG_WARNING.total_seconds():
        return None
    behind = "never ran" if lag is None else f"are {lag / 60:.0f} min behind"
    return (
        f"note: rollups {behind}; raw rows are read for the rest (slower). "
        "Run `wac rollup` (or `wac web`, which runs it) to keep them current."
    )


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.1f}ms"
    if value < 1000:
        return f"{value:.0f}ms"
    return f"{value / 1000:.2f}s"


def fmt_time(text: str | None) -> str:
    if text is None:
        return "-"
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def format_table(report: dict[str, Any]) -> str:
    head = f"wac report {fmt_time(report['from'])} → {fmt_time(report['to'])} UTC"
    if not report["targets"]:
        return f"{head}\nno checks in this window"
    columns = (
        "TARGET",
        "PROBE",
        "STATUS",
        "SINCE",
        "UPTIME",
        "CHECKS",
        "FAILURES",
        "P50",
        "P95",
        "P99",
        "CERT",
    )
    lines = [columns]
    for t in report["targets"]:
        rt = t["response_time_ms"]
        kinds = ", ".join(f"{visible(k)} {n}" for k, n in t["failures_by_kind"].items()) or "-"
        uptime = "-" if t["uptime_pct"] is None else f"{t['uptime_pct']:.3f}%"
        cert = "-" if t["cert_days_left"] is None else f"{t['cert_days_left']:.0f}d"
        status = (t["status"] or "-").upper()
        lines.append(
            (
                visible(t["target"]),
                visible(t.get("probe") or "-"),
                status,
                fmt_time(t["since"]),
                uptime,
                str(t["checks"]),
                kinds,
                fmt_ms(rt["p50"]),
                fmt_ms(rt["p95"]),
                fmt_ms(rt["p99"]),
                cert,
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(columns))]
    right = {4, 5, 7, 8, 9, 10}
    out = [head, ""]
    for row in lines:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)
