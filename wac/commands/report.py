"""`wac report` and `wac rollup`."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import click

from wac import limits
from wac.commands.common import reports_errors
from wac.config import load_settings
from wac.errors import WacError
from wac.settings.durations import parse_duration_text

log = logging.getLogger(__name__)
DEFAULT_LOCK_WAIT_S = 300.0
DEFAULT_INTERVAL_S = 15.0


@click.command()
@click.option("--since", default=None, help="Window up to now: 30m, 24h, 7d, 365d (default 24h).")
@click.option("--from", "start", default=None, help="Window start, ISO 8601 (UTC if no zone).")
@click.option("--to", "end", default=None, help="Window end, ISO 8601 (default now).")
@click.option("--target", "targets", multiple=True, help="Only this target id (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@reports_errors
def report(
    since: str | None,
    start: str | None,
    end: str | None,
    targets: tuple[str, ...],
    as_json: bool,
) -> None:
    """Per target: uptime, checks, failures by kind, p50/p95/p99, status, certificate."""
    from wac.db.connect import connect_reader
    from wac.reports.report import build_report, format_table, rollup_lag_note
    from wac.reports.window import parse_duration, resolve_window

    settings = load_settings()
    with connect_reader(settings.postgres(), "wac-report", read_only=True) as conn:
        if start is None and end is None:
            result = build_report(conn, None, None, targets or None, parse_duration(since or "24h"))
        else:
            frm, to = resolve_window(since, start, end, datetime.now(UTC))
            result = build_report(conn, frm, to, targets or None)
    note = rollup_lag_note(result)
    if note:
        click.echo(note, err=True)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(format_table(result))


@click.command()
@click.option(
    "--once",
    is_flag=True,
    help="Catch up once and exit (waiting for another process's pass to end first).",
)
@click.option(
    "--lock-wait",
    default=None,
    metavar="DURATION",
    help="With --once: how long to wait for another process's pass before giving up (exit 1): "
    f"seconds or a duration, up to 24h. Default: {DEFAULT_LOCK_WAIT_S:g} s.",
)
@click.option(
    "--interval",
    default=None,
    metavar="DURATION",
    help=f"Time between passes: seconds or a duration. Default: {DEFAULT_INTERVAL_S:g} s.",
)
@click.option(
    "--rebuild",
    "rebuild_since",
    default=None,
    help="Recompute the last DURATION from raw rows first (e.g. 7d).",
)
@reports_errors
def rollup(
    once: bool, lock_wait: str | None, interval: str | None, rebuild_since: str | None
) -> None:
    """Keep the rollups current (the dashboard's `wac web` also does it)."""
    from wac.db.connect import connect_reader
    from wac.db.migrate import migrate
    from wac.reports.window import parse_duration
    from wac.rollups import job as job

    wait_s = _seconds(lock_wait, "--lock-wait", DEFAULT_LOCK_WAIT_S, limits.MAX_INTERVAL_S)
    every_s = _seconds(interval, "--interval", DEFAULT_INTERVAL_S, limits.MAX_INTERVAL_S)
    settings = load_settings()
    conn = connect_reader(settings.postgres(), "wac-rollup")
    migrate(conn)
    if rebuild_since is not None:
        span = parse_duration(rebuild_since, "--rebuild")
        now = datetime.now(UTC)
        written = job.rebuild(conn, now - span, now)
        click.echo(f"rebuilt {written} minute buckets")
    from wac.runtime.signals import Signals

    with conn, Signals() as signals:
        stopping = signals.stop
        while True:
            result = job.catch_up(conn, stop=stopping, wait=wait_s if once else 0.0)
            if once and not result.ran:
                raise WacError(
                    f"another process held the rollup lock for {wait_s:g} s (--lock-wait): "
                    "the rollups were not brought up to date; run it again"
                )
            if result.ran:
                log.info(
                    "rollups at %s (lag %.0f s, %d minute buckets, %d late) in %.2f s",
                    result.watermark.isoformat() if result.watermark else "-",
                    result.lag_seconds,
                    result.minutes_written,
                    result.late_minutes,
                    result.seconds,
                )
            if once or stopping.wait(every_s):
                break


def _seconds(raw: str | None, option: str, default: float, highest: float) -> float:
    if raw is None:
        return default
    return parse_duration_text(raw, option, lowest=limits.MIN_SETTING_DURATION_S, highest=highest)
