"""Time windows: parsing `--since`/`--from`/`--to`, and splitting a window into pieces
read from the coarsest rollup tier that fits, finer tiers at the edges, raw rows for
what is not rolled up yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from wac.errors import ConfigError
from wac.rollups.tiers import DAY, HOUR, MINUTE, TIERS, ceil_to, floor_to
from wac.settings.durations import parse_duration_text

# Coarsest first.
SOURCE_UNITS = dict(sorted(TIERS.items(), key=lambda tier: -tier[1]))


# Times a window may start or end at: with room on both sides for the window's arithmetic.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
# The longest window: a century, far beyond any data, and well inside what dates can hold.
MAX_DURATION = timedelta(days=36500)
MIN_DURATION = timedelta(milliseconds=1)


def parse_duration(text: str, what: str = "--since") -> timedelta:
    """`90s`, `15m`, `24h`, `365d`, `2w` (the one duration grammar, its unit required);
    at most MAX_DURATION."""
    seconds = parse_duration_text(
        text,
        what,
        lowest=MIN_DURATION.total_seconds(),
        highest=MAX_DURATION.total_seconds(),
        bare=False,
        examples="30m, 24h, 7d, 365d",
    )
    return timedelta(seconds=seconds)


def parse_time(text: str, what: str) -> datetime:
    """ISO 8601 date or date-time; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{what}={text!r} is not a time: use ISO 8601, e.g. 2026-01-31 or "
            "2026-01-31T12:00:00Z (UTC when no zone is given)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        value = datetime.min.replace(tzinfo=UTC)  # out of range: refused just below
    if not EARLIEST <= value <= LATEST:
        raise ConfigError(
            f"{what}={text!r} is out of range: give a time between "
            f"{EARLIEST.date().isoformat()} and {LATEST.date().isoformat()}"
        )
    return value


def resolve_window(
    since: str | None, start: str | None, end: str | None, now: datetime
) -> tuple[datetime, datetime]:
    """The [from, to) of the command line: --since, or --from [--to] (default: last 24 h)."""
    if since is not None and (start is not None or end is not None):
        raise ConfigError("give either --since or --from/--to, not both")
    if since is not None:
        return now - parse_duration(since), now
    to = parse_time(end, "--to") if end is not None else now
    frm = parse_time(start, "--from") if start is not None else to - DAY
    if frm >= to:
        raise ConfigError(f"--from {frm.isoformat()} is not before --to {to.isoformat()}")
    return frm, min(to, now) if to > now else to


@dataclass(frozen=True)
class Piece:
    source: str  # "raw" or a tier of TIERS
    start: datetime
    end: datetime


def plan_window(
    start: datetime,
    end: datetime,
    watermark: datetime | None,
    minute_horizon: datetime | None = None,
    coarsest: str = "week",
) -> list[Piece]:
    """Split [start, end) into non-overlapping pieces that together cover it exactly.

    Rolled-up tiers hold whole buckets before the watermark; raw rows give the
    sub-minute edges and everything at or after the watermark. Before
    `minute_horizon` (minutes pruned) the start is rounded to the nearest hour.
    `coarsest` limits the tiers used (a series binned by hour cannot use days).

    A window that reaches the watermark ends with one piece [x, watermark) of the
    coarsest tier whose bucket holding the watermark starts at x, inside the window:
    that bucket's row holds exactly the minutes from x to the watermark, as the rollup
    job never rolls up a minute at or after it (wac/rollups/job.py). A window ending now
    then reads one row a target for its end instead of up to 6 days, 23 hours and 59
    minutes of rows.
    """
    if end <= start:
        return []
    if watermark is None or watermark <= start:
        return [Piece("raw", start, end)]
    tier_end = min(end, watermark)
    a, b = ceil_to(start, MINUTE), floor_to(tier_end, MINUTE)
    old_start = minute_horizon is not None and a < minute_horizon
    old_end = minute_horizon is not None and b < minute_horizon
    if old_start:
        a = _round_hour(start)
    if old_end:
        b = _round_hour(tier_end)
    if a >= b:
        return [Piece("raw", start, end)]
    pieces: list[Piece] = []
    if start < a and not old_start:
        pieces.append(Piece("raw", start, a))
    units = [u for u in SOURCE_UNITS if SOURCE_UNITS[u] <= SOURCE_UNITS[coarsest]]
    if b == watermark:
        # The coarsest bucket holding the watermark that starts inside the window.
        unit, x = next(
            (u, floor_to(b, SOURCE_UNITS[u])) for u in units if floor_to(b, SOURCE_UNITS[u]) >= a
        )
        pieces += _decompose(a, x, units)
        if x < b:
            pieces.append(Piece(unit, x, b))  # the row of the bucket at x: up to b
    else:
        pieces += _decompose(a, b, units)
    if b < end and not old_end:
        pieces.append(Piece("raw", b, end))
    return pieces


def _round_hour(t: datetime) -> datetime:
    return floor_to(t + HOUR / 2, HOUR)


def _decompose(a: datetime, b: datetime, units: list[str]) -> list[Piece]:
    if a >= b:
        return []
    unit = units[0]
    if len(units) == 1:
        return [Piece(unit, a, b)]
    lo, hi = ceil_to(a, SOURCE_UNITS[unit]), floor_to(b, SOURCE_UNITS[unit])
    if lo >= hi:
        return _decompose(a, b, units[1:])
    return [*_decompose(a, lo, units[1:]), Piece(unit, lo, hi), *_decompose(hi, b, units[1:])]
