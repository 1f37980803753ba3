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
from psycopg.rows import dict_row

from wac.reports.aggregate import Aggregate
from wac.reports.window import Piece, plan_window
from wac.result import iso_utc
from wac.rollups.tiers import TIER_TABLES, TIERS, raw_aggregates, raw_source, tier_sums

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
        return sql.SQL("SELECT target, {} AS bin, {} FROM {} GROUP BY 1, 2").format(
            group, raw_aggregates(), raw_source(where)
        )
    return sql.SQL(
        "SELECT target, {} AS bin, {} FROM {} WHERE bucket >= {} AND bucket < {} AND {} "
        "GROUP BY 1, 2"
    ).format(
        group,
        tier_sums(),
        sql.Identifier(TIER_TABLES[piece.source]),
        sql.Literal(piece.start),
        sql.Literal(piece.end),
        tf,
    )


def aggregate(
    conn: psycopg.Connection,
    pieces: Sequence[Piece],
    targets: Sequence[str] | None = None,
    step: timedelta | None = None,
) -> dict[tuple[str, datetime | None], Aggregate]:
    """Sum the pieces per target (and per `step` bin when given)."""
    if not pieces:
        return {}
    union = sql.SQL(" UNION ALL ").join(_piece_sql(p, targets, step) for p in pieces)
    query = sql.SQL("SELECT target, bin, {} FROM ({}) AS p GROUP BY 1, 2").format(
        tier_sums("p"), union
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query)
        return {(r["target"], r["bin"]): Aggregate.from_row(r) for r in cur}


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
