"""The history behind `wac report` and `wac web`: aggregates over windows and series.

Everything reads one consistent snapshot (call inside a REPEATABLE READ transaction):
the rollup watermark, the rollup tiers before it and raw `checks` rows after it. The
current status of a target is not recomputed from the history: it is the store's
`targets` table (wac/reports/status.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from wac.reports.aggregate import Aggregate
from wac.reports.window import Piece, plan_window
from wac.result import iso_utc
from wac.rollups.tiers import (
    HIST_COLUMNS,
    METRIC_COLUMNS,
    PHASE_COLUMNS,
    SCALAR_COLUMNS,
    TIER_TABLES,
    TIERS,
    raw_aggregates,
    raw_source,
    sane_expiry,
    sane_ms,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Snapshot:
    watermark: datetime | None
    minute_horizon: datetime | None
    now: datetime


def snapshot(conn: psycopg.Connection) -> Snapshot:
    row = conn.execute("SELECT watermark, minute_horizon, now() FROM rollup_state").fetchone()
    if row is None:
        now = conn.execute("SELECT now()").fetchone()
        assert now is not None
        return Snapshot(None, None, now[0])
    return Snapshot(row[0], row[1], row[2])


def _targets_sql(targets: Sequence[str] | None, column: str = "target") -> sql.Composable:
    if targets is None:
        return sql.SQL("true")
    return sql.SQL("{} = ANY({})").format(sql.Identifier(column), sql.Literal(list(targets)))


def _piece_sql(piece: Piece, targets: Sequence[str] | None, step: timedelta | None) -> sql.Composed:
    """The rows of one piece: a tier's rows as they are, or the raw rows aggregated."""
    tf = _targets_sql(targets)
    time_col = "checked_at" if piece.source == "raw" else "bucket"
    if step is None:
        group: sql.Composable = sql.SQL("NULL::timestamptz")
    else:
        group = sql.SQL("date_bin({}, {}, {})").format(
            sql.Literal(step), sql.Identifier(time_col), sql.Literal(EPOCH)
        )
    if piece.source == "raw":
        where = sql.SQL("checked_at >= {} AND checked_at < {} AND {}").format(
            sql.Literal(piece.start), sql.Literal(piece.end), tf
        )
        # As integers, as in the tiers: a bigint column would make every sum of the
        # union a numeric one (a state allocated per target and column: 6 KB a target).
        return sql.SQL(
            "SELECT target, bin, {} FROM (SELECT target, {} AS bin, {} FROM {} GROUP BY 1, 2) AS r"
        ).format(_AS_TIER_TYPES, group, raw_aggregates(), raw_source(where))
    return sql.SQL(
        "SELECT target, {} AS bin, {} FROM {} WHERE bucket >= {} AND bucket < {} AND {}"
    ).format(
        group,
        _METRICS,
        sql.Identifier(TIER_TABLES[piece.source]),
        sql.Literal(piece.start),
        sql.Literal(piece.end),
        tf,
    )


_METRICS = sql.SQL(", ").join(map(sql.Identifier, METRIC_COLUMNS))
_FLOAT_COLUMNS = {"rt_sum", "rt_min", "rt_max", "tls_expires_at", *PHASE_COLUMNS}
_AS_TIER_TYPES = sql.SQL(", ").join(
    sql.SQL("{}::integer AS {}").format(sql.Identifier(c), sql.Identifier(c))
    if c not in _FLOAT_COLUMNS
    else sql.Identifier(c)
    for c in METRIC_COLUMNS
)


def _plain_sums() -> sql.Composed:
    """`sum(col) AS col, …` over tier rows and aggregated raw rows, as they are: the tier
    rows hold only checked values (the rollup job writes them from checked raw values;
    migration 0150 checked the older ones), so only the results are checked
    (`_checked`), once per target rather than once per row."""
    parts = []
    for col in METRIC_COLUMNS:
        func = {"rt_min": "min", "rt_max": "max", "tls_expires_at": "max"}.get(col, "sum")
        parts.append(
            sql.SQL("{}({}) AS {}").format(sql.SQL(func), sql.Identifier(col), sql.Identifier(col))
        )
    return sql.SQL(", ").join(parts)


def _checked() -> sql.Composed:
    """The summed columns with values out of range (NaN, a time in ms over a day per
    check, an expiry out of years 1950-9999) as unknown, as every reader shows them:
    SCALAR_COLUMNS, then the histogram as one array (`Aggregate.from_values`)."""
    parts = []
    for col in SCALAR_COLUMNS:
        name = sql.Identifier(col)
        value: sql.Composable = name
        if col in ("rt_min", "rt_max"):
            value = sane_ms(name)
        elif col == "tls_expires_at":
            value = sane_expiry(name)
        elif col == "rt_sum" or col in PHASE_COLUMNS:
            value = sane_ms(name, most=sql.Identifier("rt_count"))
        elif col == "rt_count":  # no count without its sum: the average reads unknown
            value = sql.SQL("CASE WHEN {s} IS NOT NULL THEN rt_count END").format(
                s=sane_ms(sql.Identifier("rt_sum"), most=name)
            )
        parts.append(sql.SQL("{} AS {}").format(value, name))
    parts.append(
        sql.SQL("ARRAY[{}]::bigint[] AS hist").format(
            sql.SQL(", ").join(
                sql.SQL("coalesce({}, 0)").format(sql.Identifier(c)) for c in HIST_COLUMNS
            )
        )
    )
    return sql.SQL(", ").join(parts)


def aggregate(
    conn: psycopg.Connection,
    pieces: Sequence[Piece],
    targets: Sequence[str] | None = None,
    step: timedelta | None = None,
) -> dict[tuple[str, datetime | None], Aggregate]:
    """Sum the pieces per target (and per `step` bin when given).

    One aggregation over the tier rows of every piece (and the raw pieces' aggregates),
    so PostgreSQL can split the scan of the largest tier between parallel workers.
    """
    if not pieces:
        return {}
    union = sql.SQL(" UNION ALL ").join(_piece_sql(p, targets, step) for p in pieces)
    # Without bins, grouped by target alone: the planner then expects one group a target
    # (a hash aggregate) rather than one a row (a sort that spills to disk).
    bins = sql.SQL("bin") if step is not None else sql.SQL("NULL::timestamptz")
    query = sql.SQL(
        "SELECT target, bin, {} FROM (SELECT target, {} AS bin, {} FROM ({}) AS p "
        "GROUP BY target{}) AS s"
    ).format(
        _checked(),
        bins,
        _plain_sums(),
        union,
        sql.SQL(", bin") if step is not None else sql.SQL(""),
    )
    with conn.cursor() as cur:
        cur.execute(query)
        return {(r[0], r[1]): Aggregate.from_values(r[2:]) for r in cur}


def summaries(
    conn: psycopg.Connection,
    snap: Snapshot,
    start: datetime,
    end: datetime,
    targets: Sequence[str] | None = None,
) -> dict[str, Aggregate]:
    pieces = plan_window(start, end, snap.watermark, snap.minute_horizon)
    return {t: agg for (t, _), agg in aggregate(conn, pieces, targets).items()}


def counts_sql(pieces: Sequence[Piece], targets: Sequence[str] | None = None) -> sql.Composed:
    """`SELECT target, checks, failures` over these pieces, one row per target: the
    numbers behind an uptime, from two columns of each tier row (no histogram)."""
    parts: list[sql.Composable] = []
    for piece in pieces:
        tf = _targets_sql(targets)
        if piece.source == "raw":
            parts.append(
                sql.SQL(
                    "SELECT target, 1 AS checks, CASE WHEN ok THEN 0 ELSE 1 END AS failures "
                    "FROM checks WHERE checked_at >= {} AND checked_at < {} AND {}"
                ).format(sql.Literal(piece.start), sql.Literal(piece.end), tf)
            )
        else:
            parts.append(
                sql.SQL(
                    "SELECT target, checks, failures FROM {} "
                    "WHERE bucket >= {} AND bucket < {} AND {}"
                ).format(
                    sql.Identifier(TIER_TABLES[piece.source]),
                    sql.Literal(piece.start),
                    sql.Literal(piece.end),
                    tf,
                )
            )
    if not parts:
        return sql.SQL(
            "SELECT NULL::text AS target, 0::bigint AS checks, 0::bigint AS failures WHERE false"
        ).format()
    return sql.SQL(
        "SELECT target, sum(checks)::bigint AS checks, sum(failures)::bigint AS failures "
        "FROM ({}) AS c GROUP BY target"
    ).format(sql.SQL(" UNION ALL ").join(parts))


def uptime_counts(
    conn: psycopg.Connection,
    snap: Snapshot,
    start: datetime,
    end: datetime,
    targets: Sequence[str] | None = None,
) -> dict[str, tuple[int, int]]:
    """target → (checks, failures) in [start, end)."""
    pieces = plan_window(start, end, snap.watermark, snap.minute_horizon)
    return {t: (c, f) for t, c, f in conn.execute(counts_sql(pieces, targets)) if t is not None}


def series(
    conn: psycopg.Connection,
    snap: Snapshot,
    target: str,
    start: datetime,
    end: datetime,
    step: timedelta,
) -> list[tuple[datetime, Aggregate]]:
    """Per-`step` aggregates of one target (bins aligned to the epoch, UTC)."""
    fitting = [t for t, unit in TIERS.items() if step % unit == timedelta(0)]
    coarsest = max(fitting, key=lambda t: TIERS[t])
    pieces = plan_window(start, end, snap.watermark, snap.minute_horizon, coarsest=coarsest)
    rows = aggregate(conn, pieces, [target], step)
    return sorted(((b, agg) for (_, b), agg in rows.items() if b is not None), key=lambda x: x[0])


def json_time(value: datetime | None) -> str | None:
    """A time in the JSON answers: as results write it (`iso_utc`); None stays null."""
    return None if value is None else iso_utc(value)
