"""Rollups of `checks`: per-minute, 10-minute, hour, 6-hour, day and week aggregates per
target.

The rollup job aggregates *closed* minutes (older than `settle`) from raw rows into
`rollup_minute`, then recomputes the coarser buckets those minutes belong to, each tier
from the one below it (`TIER_BELOW`: 10 minutes from minutes, hours from 10 minutes,
6 hours from hours, days from 6 hours, weeks from days). It never
touches the store's hot path: it runs beside it (in `wac web`, or `wac rollup`), reads
`checks` by time range and writes only its own tables.

- Incremental with a watermark: minutes before `rollup_state.watermark` are rolled up;
  readers take raw rows at or after it, so answers are exact up to the current second.
  No rollup row ever holds a minute at or after the watermark (the watermark moves in
  the transaction that rolls its minutes up; `rebuild` stops at it): the row of the
  hour, day or week that holds the watermark holds exactly its minutes before it, and
  readers read that one row instead of the finer rows under it.
- Idempotent: every step *recomputes* buckets from the tier below (INSERT … ON
  CONFLICT DO UPDATE with the new totals), so running a range twice changes nothing.
- Safe with several processes: a pass holds a transaction-level advisory lock; a
  process that does not get it skips the pass (`wac rollup --once` waits for it).
- Late rows (a store that was down catches up with old results): the store marks the
  minutes of its late rows in `rollup_dirty`, in the transaction that writes them. Each
  pass takes the marks and recomputes those minutes and the hours, days and weeks they
  are part of (hours straight from raw rows where the minutes were pruned), so the next
  pass makes every answer exact, however old the rows. As a fallback for rows written
  by other means, each pass also compares, per minute, the raw row count with the
  rolled-up count over the last `recheck` (and `deep_recheck` now and then) and
  recomputes the minutes that differ (`checks` is insert-only).
- Backfill: a watermark of NULL (first run) starts from the oldest check, in chunks.
- Any row `checks` can hold is safe to roll up and to read: times in ms outside the
  v1 range (NaN, infinities, negatives, over a day) and certificate expiries outside
  years 1950-9999 count as unknown (`sane_ms`, `sane_expiry`), in the raw rows and in
  the tiers alike, so no sum overflows and no value breaks a reader. Such rows come only
  from before the store refused them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from wac.rollups.tiers import (
    DAY,
    EPOCH,
    HOUR,
    METRIC_COLUMNS,
    MINUTE,
    PRUNED_TIERS,
    TIER_BELOW,
    TIER_TABLES,
    TIERS,
    ceil_to,
    floor_to,
    raw_aggregates,
    raw_source,
    tier_sums,
)

log = logging.getLogger(__name__)

ROLLUP_LOCK_KEY = 0x7761635F726F6C  # "wac_rol"


def _columns() -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, ("target", "bucket", *METRIC_COLUMNS)))


def _upsert_tail() -> sql.Composed:
    return sql.SQL("ON CONFLICT (target, bucket) DO UPDATE SET {}").format(
        sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in METRIC_COLUMNS
        )
    )


def _target_filter(targets: Sequence[str] | None, column: str = "target") -> sql.Composable:
    if targets is None:
        return sql.SQL("true")
    return sql.SQL("{} = ANY({})").format(sql.Identifier(column), sql.Literal(list(targets)))


# ------------------------------------------------------------------------ recomputation


def recompute_minutes(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    targets: Sequence[str] | None = None,
    tier: str = "minute",
) -> int:
    """Recompute rollup_minute (or, for pruned minutes, rollup_hour: `tier="hour"`) for
    [start, end) from raw rows; returns buckets written."""
    where = sql.SQL("checked_at >= {} AND checked_at < {} AND {}").format(
        sql.Literal(start), sql.Literal(end), _target_filter(targets)
    )
    return _fill_tier(conn, tier, sql.SQL("checked_at"), raw_aggregates(), raw_source(where))


def recompute_tier(
    conn: psycopg.Connection,
    tier: str,
    start: datetime,
    end: datetime,
    targets: Sequence[str] | None = None,
) -> int:
    """Recompute the `tier` buckets (any tier but minutes) overlapping [start, end) from
    the tier below."""
    unit = TIERS[tier]
    below = TIER_TABLES[TIER_BELOW[tier]]
    lo, hi = floor_to(start, unit), ceil_to(end, unit)
    rows = sql.SQL("{below} WHERE bucket >= {lo} AND bucket < {hi} AND {targets}").format(
        below=sql.Identifier(below),
        lo=sql.Literal(lo),
        hi=sql.Literal(hi),
        targets=_target_filter(targets),
    )
    return _fill_tier(conn, tier, sql.SQL("bucket"), tier_sums(), rows)


def _fill_tier(
    conn: psycopg.Connection,
    tier: str,
    time: sql.Composable,
    values: sql.Composable,
    rows: sql.Composable,
) -> int:
    """Upsert the `tier` buckets of `rows` (a FROM clause): one per target and `tier`
    unit of its `time` column, of the aggregates `values`; returns buckets written."""
    # date_bin from the epoch: a week from a Thursday, as `floor_to` and series bins;
    # for minutes, hours and days the same buckets as date_trunc in UTC.
    query = sql.SQL(
        "INSERT INTO {table} ({cols}) "
        "SELECT target, date_bin({unit}, {time}, {epoch}), {values} FROM {rows} "
        "GROUP BY 1, 2 {upsert}"
    ).format(
        table=sql.Identifier(TIER_TABLES[tier]),
        cols=_columns(),
        unit=sql.Literal(TIERS[tier]),
        epoch=sql.Literal(EPOCH),
        time=time,
        values=values,
        rows=rows,
        upsert=_upsert_tail(),
    )
    return conn.execute(query).rowcount


def recompute(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    targets: Sequence[str] | None = None,
) -> int:
    """Minutes of [start, end) from raw rows, then the coarser buckets they are part of."""
    start, end = floor_to(start, MINUTE), ceil_to(end, MINUTE)
    if end <= start:
        return 0
    written = recompute_minutes(conn, start, end, targets)
    for tier in TIER_BELOW:  # finest first
        recompute_tier(conn, tier, start, end, targets)
    return written


def stale_minutes(conn: psycopg.Connection, start: datetime, end: datetime) -> list[datetime]:
    """Minutes of [start, end) with more raw rows than were rolled up (late arrivals).

    Fewer raw rows than rolled up means raw retention removed them: the rollup stays.
    """
    rows = conn.execute(
        "SELECT coalesce(r.m, s.m) FROM "
        "(SELECT date_trunc('minute', checked_at, 'UTC') AS m, count(*) AS n FROM checks "
        " WHERE checked_at >= %(a)s AND checked_at < %(b)s GROUP BY 1) r "
        "FULL JOIN "
        "(SELECT bucket AS m, sum(checks) AS n FROM rollup_minute "
        " WHERE bucket >= %(a)s AND bucket < %(b)s GROUP BY 1) s ON r.m = s.m "
        "WHERE r.n > coalesce(s.n, 0) ORDER BY 1",
        {"a": start, "b": end},
    ).fetchall()
    return [r[0] for r in rows]


def take_marked_minutes(
    conn: psycopg.Connection, watermark: datetime | None, limit: int
) -> tuple[list[datetime], bool]:
    """Take (delete) the marks of late rows; returns the rolled-up minutes to recompute,
    at most `limit` of them, and whether more are left for another pass.

    Called before any recomputation of the pass: every mark taken was committed with its
    rows, so the statements after this one see those rows. Marks at or after the
    watermark need no work of their own: the minutes there are not rolled up yet, and
    the watermark's advance will read their rows.
    """
    if watermark is None:
        conn.execute("DELETE FROM rollup_dirty")
        return [], False
    conn.execute("DELETE FROM rollup_dirty WHERE minute >= %s", (watermark,))
    taken = conn.execute(
        "DELETE FROM rollup_dirty WHERE minute IN (SELECT DISTINCT minute FROM rollup_dirty "
        "ORDER BY minute LIMIT %s) RETURNING minute",
        (limit,),
    ).fetchall()
    left = conn.execute("SELECT EXISTS (SELECT FROM rollup_dirty)").fetchone()
    return sorted({floor_to(row[0], MINUTE) for row in taken}), bool(left and left[0])


def recompute_marked(
    conn: psycopg.Connection, minutes: Sequence[datetime], horizon: datetime | None
) -> None:
    """Recompute these rolled-up minutes and the coarser buckets they are part of.

    Minutes and 10 minutes before `horizon` were pruned (their hours and coarser buckets
    remain): there the hours are recomputed straight from raw rows, then the coarser
    buckets.
    """
    recent = [m for m in minutes if horizon is None or m >= horizon]
    for a, b in minute_runs(recent):
        recompute(conn, a, b)
    hours = sorted({floor_to(m, HOUR) for m in minutes if horizon is not None and m < horizon})
    for a, b in _runs(hours, HOUR):
        recompute_minutes(conn, a, b, tier="hour")
        for tier in _ABOVE_HOUR:
            recompute_tier(conn, tier, a, b)


_ABOVE_HOUR = tuple(t for t in TIER_BELOW if TIERS[t] > HOUR)


def minute_runs(minutes: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted minutes → [start, end) ranges of consecutive minutes."""
    return _runs(minutes, MINUTE)


def _runs(starts: Sequence[datetime], unit: timedelta) -> list[tuple[datetime, datetime]]:
    runs: list[tuple[datetime, datetime]] = []
    for m in starts:
        if runs and runs[-1][1] == m:
            runs[-1] = (runs[-1][0], m + unit)
        else:
            runs.append((m, m + unit))
    return runs


# ------------------------------------------------------------------------------ the job


@dataclass(frozen=True)
class RollupSettings:
    settle: timedelta = timedelta(minutes=2)  # a minute is closed this long after its end
    chunk: timedelta = timedelta(hours=6)  # most raw time aggregated per transaction
    recheck: timedelta = timedelta(hours=1)  # late rows looked for every pass
    deep_recheck: timedelta = timedelta(days=2)  # ... and this far back now and then
    deep_recheck_every: timedelta = timedelta(minutes=15)
    minute_retention: timedelta | None = timedelta(days=35)  # None keeps minutes forever


@dataclass
class PassResult:
    ran: bool  # False when another process held the lock
    watermark: datetime | None = None
    minutes_written: int = 0
    late_minutes: int = 0
    caught_up: bool = True
    seconds: float = 0.0
    lag_seconds: float = 0.0
    pruned: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def run_pass(
    conn: psycopg.Connection, settings: RollupSettings | None = None, *, wait: float = 0.0
) -> PassResult:
    """One pass of the job in one transaction: late rows, new closed minutes, pruning.

    With `wait` > 0, waits that many seconds for another process's pass to end instead
    of skipping at once; `ran` is False when the lock was not had.
    """
    cfg = settings or RollupSettings()
    started = time.monotonic()
    conn.autocommit = False
    try:
        with conn.transaction():
            if not _lock(conn, wait):
                return PassResult(ran=False)
            result = _pass(conn, cfg)
    except psycopg.errors.LockNotAvailable:
        return PassResult(ran=False)
    result.seconds = time.monotonic() - started
    return result


def _lock(conn: psycopg.Connection, wait: float) -> bool:
    if wait <= 0:
        got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (ROLLUP_LOCK_KEY,)).fetchone()
        return bool(got and got[0])
    conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{wait * 1000:.0f}")))
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (ROLLUP_LOCK_KEY,))
    conn.execute("SET LOCAL lock_timeout = 0")
    return True


def _pass(conn: psycopg.Connection, cfg: RollupSettings) -> PassResult:
    state = conn.execute(
        "SELECT watermark, minute_horizon, deep_recheck_at, now() FROM rollup_state FOR UPDATE"
    ).fetchone()
    assert state is not None, "rollup_state has no row: run the migrations"
    watermark, horizon, deep_at, now = state
    closed = floor_to(now - cfg.settle, MINUTE)
    result = PassResult(ran=True)

    # Minutes the stores marked (late rows): first, so that what they mark is seen.
    marked, more_marked = take_marked_minutes(conn, watermark, int(cfg.chunk / MINUTE))
    recompute_marked(conn, marked, horizon)
    if marked:
        log.info("rollups: %d minute(s) had late rows; recomputed", len(marked))

    if watermark is None:
        first = conn.execute("SELECT min(checked_at) FROM checks").fetchone()
        watermark = floor_to(first[0], MINUTE) if first and first[0] else closed
        log.info("rollups: first run, backfilling from %s", watermark.isoformat())
    end = min(closed, watermark + cfg.chunk)
    if end > watermark:
        result.minutes_written = recompute(conn, watermark, end)
    result.caught_up = end >= closed and not more_marked

    # Fallback for rows no store marked: minutes whose raw count changed since.
    late: list[datetime] = []
    if end >= closed:
        deep = deep_at is None or now - deep_at >= cfg.deep_recheck_every
        span = cfg.deep_recheck if deep else cfg.recheck
        lo = max(end - span, horizon) if horizon is not None else end - span
        late = stale_minutes(conn, lo, watermark) if lo < watermark else []
        for a, b in minute_runs(late):
            recompute(conn, a, b)
        if late:
            log.info("rollups: %d unmarked minute(s) had late rows; recomputed", len(late))
        if deep:
            conn.execute("UPDATE rollup_state SET deep_recheck_at = %s", (now,))
    result.late_minutes = len(marked) + len(late)

    if cfg.minute_retention is not None:
        new_horizon = floor_to(now - cfg.minute_retention, DAY)
        if horizon is None or new_horizon > horizon:
            for tier in PRUNED_TIERS:
                result.pruned += conn.execute(
                    sql.SQL("DELETE FROM {} WHERE bucket < %s").format(
                        sql.Identifier(TIER_TABLES[tier])
                    ),
                    (new_horizon,),
                ).rowcount
            conn.execute("UPDATE rollup_state SET minute_horizon = %s", (new_horizon,))

    conn.execute(
        "UPDATE rollup_state SET watermark = %s, updated_at = now()", (max(end, watermark),)
    )
    result.watermark = max(end, watermark)
    result.lag_seconds = (now - result.watermark).total_seconds()
    return result


def catch_up(
    conn: psycopg.Connection,
    settings: RollupSettings | None = None,
    stop: threading.Event | None = None,
    *,
    wait: float = 0.0,
) -> PassResult:
    """Run passes until the watermark reaches the closed minutes and no marked minute is
    left (a backfill loops). `wait`: as in `run_pass`, for each pass."""
    while True:
        result = run_pass(conn, settings, wait=wait)
        if not result.ran or result.caught_up or (stop is not None and stop.is_set()):
            return result
        log.info("rollups: backfilled up to %s", result.watermark)


def rebuild(
    conn: psycopg.Connection,
    start: datetime,
    end: datetime,
    targets: Sequence[str] | None = None,
    chunk: timedelta = timedelta(hours=6),
) -> int:
    """Recompute [start, end) from raw rows (repair after a very late catch-up), in chunks.

    Only what is rolled up: up to the watermark, which the job's passes advance. A
    rollup row never holds a minute at or after the watermark (readers rely on it).
    """
    written = 0
    # From the start of its hour: where the minutes were pruned the hour is the finest
    # tier, recomputed whole from the minutes written here (so from all its raw rows).
    lo = floor_to(start, HOUR)
    while lo < end:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ROLLUP_LOCK_KEY,))
            watermark, _ = read_state(conn)
            hi = min(ceil_to(end, MINUTE), lo + chunk, watermark or lo)
            if hi <= lo:
                break
            written += recompute(conn, lo, hi, targets)
        lo = hi
    return written


def read_state(conn: psycopg.Connection) -> tuple[datetime | None, datetime | None]:
    """(watermark, minute_horizon) as committed."""
    row = conn.execute("SELECT watermark, minute_horizon FROM rollup_state").fetchone()
    return (row[0], row[1]) if row else (None, None)
