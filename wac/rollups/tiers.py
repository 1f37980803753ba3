"""The rollup tiers' shape: what readers of rollups may rely on.

`rollup_minute`, `rollup_minute10`, `rollup_hour`, `rollup_hour6`, `rollup_day` and
`rollup_week` have the same columns
(METRIC_COLUMNS): counters, failures by error kind, response-time sums and extremes,
phase sums, the latest certificate expiry and a response-time histogram over
RESPONSE_TIME_BOUNDS_MS, all on UTC boundaries aligned to the Unix epoch (`floor_to`,
`ceil_to`; a week is 7 days from a Thursday, 1970-01-01, as a 7-day series bin is). The
SQL pieces here aggregate raw `checks` rows (`raw_source`, `raw_aggregates`) or re-
aggregate rollup rows (`tier_sums`) into those columns, with out-of-range values as
unknown (`sane_ms`, `sane_expiry`). The rollup job (`wac.rollups.job`) writes the tiers
with them; the reports (`wac.reports`) read them with them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg import sql

from wac.result import EARLIEST_EXPIRY, ERROR_KINDS, LATEST_TIME, MAX_MS

# Upper bounds (ms) of the response-time histogram buckets: the Renard R10 series
# (ratio about 1.26) from 1 ms to 63 s, two sub-millisecond buckets below. Bucket 0 is
# below 0.25 ms, bucket i (1..50) is [BOUNDS[i-1], BOUNDS[i]), bucket 51 is >= 63 s.
# An estimated percentile is within one bucket (about ±13 %) of the exact one.
_R10 = (1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0)
RESPONSE_TIME_BOUNDS_MS: tuple[float, ...] = (
    0.25,
    0.5,
    *(m * 10**e for e in range(4) for m in _R10),
    10000.0,
    12500.0,
    16000.0,
    20000.0,
    25000.0,
    31500.0,
    40000.0,
    50000.0,
    63000.0,
)
KINDS: tuple[str, ...] = ERROR_KINDS
FAIL_COLUMNS = tuple(f"fail_{k}" for k in KINDS)
PHASES = ("resolve", "connect", "tls", "processing", "transfer")
PHASE_COLUMNS = tuple(f"{p}_ms_sum" for p in PHASES)
HIST_COLUMNS = tuple(f"rt_b{i:02d}" for i in range(len(RESPONSE_TIME_BOUNDS_MS) + 1))
# Every column of a rollup row but its target and bucket: the scalars, then the histogram.
SCALAR_COLUMNS: tuple[str, ...] = (
    "checks",
    "failures",
    *FAIL_COLUMNS,
    "rt_count",
    "rt_sum",
    "rt_min",
    "rt_max",
    *PHASE_COLUMNS,
    "tls_expires_at",
)
METRIC_COLUMNS: tuple[str, ...] = (*SCALAR_COLUMNS, *HIST_COLUMNS)

MINUTE = timedelta(minutes=1)
MINUTE10 = timedelta(minutes=10)
HOUR = timedelta(hours=1)
HOUR6 = timedelta(hours=6)
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
# Finest first. The 10-minute and 6-hour tiers (migration 0154) let a window's start
# edge read at most 9 minutes, 5 ten-minutes, 5 hours and 3 six-hours a target instead
# of 59 minutes and 23 hours.
TIERS: dict[str, timedelta] = {
    "minute": MINUTE,
    "minute10": MINUTE10,
    "hour": HOUR,
    "hour6": HOUR6,
    "day": DAY,
    "week": WEEK,
}
TIER_TABLES = {tier: f"rollup_{tier}" for tier in TIERS}
# The tier each tier is summed from (minutes come from raw rows).
TIER_BELOW = {
    "minute10": "minute",
    "hour": "minute10",
    "hour6": "hour",
    "day": "hour6",
    "week": "day",
}
# Tiers pruned with the minutes (`minute_retention`): below the hour.
PRUNED_TIERS = ("minute", "minute10")


# --------------------------------------------------------------------------- SQL pieces


def sane_ms(value: sql.Composable, most: sql.Composable | None = None) -> sql.Composed:
    """`value` when it is a time in ms of the v1 range (or a sum of at most `most` of
    them), else NULL. NaN compares above every number, so it is NULL too."""
    bound = (
        sql.Literal(MAX_MS)
        if most is None
        else sql.SQL("coalesce({}, 0) * {}").format(most, sql.Literal(MAX_MS))
    )
    return sql.SQL("CASE WHEN {v} >= 0 AND {v} <= {hi} THEN {v} END").format(v=value, hi=bound)


def sane_expiry(value: sql.Composable) -> sql.Composed:
    """`value` when it is a certificate expiry of the v1 range, else NULL."""
    return sql.SQL("CASE WHEN {v} >= {lo} AND {v} <= {hi} THEN {v} END").format(
        v=value, lo=sql.Literal(EARLIEST_EXPIRY), hi=sql.Literal(LATEST_TIME)
    )


def raw_aggregates() -> sql.Composed:
    """`agg AS col, …` over raw rows, in METRIC_COLUMNS order.

    The FROM clause must provide the `checks` columns plus `hb`, the histogram bucket
    of the row (see `raw_source`).
    """
    exprs: list[sql.Composable] = [
        sql.SQL("count(*)"),
        sql.SQL("count(*) FILTER (WHERE NOT ok)"),
    ]
    known = [k for k in KINDS if k != "other"]
    for kind in KINDS:
        if kind == "other":
            cond = sql.SQL("NOT ok AND (error_kind IS NULL OR error_kind <> ALL({}))").format(
                sql.Literal(known)
            )
        else:
            cond = sql.SQL("NOT ok AND error_kind = {}").format(sql.Literal(kind))
        exprs.append(sql.SQL("NULLIF(count(*) FILTER (WHERE {}), 0)").format(cond))
    exprs += [
        sql.SQL("NULLIF(count(response_time_ms), 0)"),
        sql.SQL("sum(response_time_ms)"),
        sql.SQL("min(response_time_ms)"),
        sql.SQL("max(response_time_ms)"),
    ]
    for phase in PHASES:
        exprs.append(
            sql.SQL("sum(coalesce({}, 0)) FILTER (WHERE response_time_ms IS NOT NULL)").format(
                sql.Identifier(f"{phase}_ms")
            )
        )
    exprs.append(sql.SQL("max(tls_expires_at)"))
    for i in range(len(HIST_COLUMNS)):
        exprs.append(sql.SQL("NULLIF(count(*) FILTER (WHERE hb = {}), 0)").format(sql.Literal(i)))
    return sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(e, sql.Identifier(c))
        for e, c in zip(exprs, METRIC_COLUMNS, strict=True)
    )


def raw_source(where: sql.Composable) -> sql.Composed:
    """`(SELECT target, checked_at, …, width_bucket(...) AS hb FROM checks WHERE …) AS r`:
    the columns the aggregates read, out-of-range values as NULL."""
    rt = sane_ms(sql.Identifier("response_time_ms"))
    columns: list[sql.Composable] = [
        sql.SQL("target, checked_at, ok, error_kind"),
        sql.SQL("{} AS response_time_ms").format(rt),
    ]
    for phase in PHASES:
        name = sql.Identifier(f"{phase}_ms")
        columns.append(sql.SQL("{} AS {}").format(sane_ms(name), name))
    columns += [
        sql.SQL("{} AS tls_expires_at").format(sane_expiry(sql.Identifier("tls_expires_at"))),
        sql.SQL("width_bucket({}, {}::float8[]) AS hb").format(
            rt, sql.Literal(list(RESPONSE_TIME_BOUNDS_MS))
        ),
    ]
    return sql.SQL("(SELECT {} FROM checks WHERE {}) AS r").format(
        sql.SQL(", ").join(columns), where
    )


def tier_sums(prefix: str = "") -> sql.Composed:
    """`sum(col) AS col, …` re-aggregating rollup rows (or pre-aggregated pieces).

    Times and expiries out of range count as unknown, as in `raw_source`: tiers rolled
    up before the store refused such values cannot overflow a sum or break a reader.
    """

    def column(name: str) -> sql.Identifier:
        return sql.Identifier(*(prefix, name) if prefix else (name,))

    parts = []
    for col in METRIC_COLUMNS:
        value: sql.Composable = column(col)
        func = "sum"
        if col in ("rt_min", "rt_max"):
            func, value = col[3:], sane_ms(value)
        elif col == "tls_expires_at":
            func, value = "max", sane_expiry(value)
        elif col == "rt_sum" or col in PHASE_COLUMNS:
            value = sane_ms(value, most=column("rt_count"))
        parts.append(sql.SQL("{}({}) AS {}").format(sql.SQL(func), value, sql.Identifier(col)))
    return sql.SQL(", ").join(parts)


# ------------------------------------------------------------------------------ helpers

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # where every bucket boundary is counted from


def floor_to(t: datetime, unit: timedelta) -> datetime:
    t = t.astimezone(UTC)
    return t - (t - EPOCH) % unit


def ceil_to(t: datetime, unit: timedelta) -> datetime:
    f = floor_to(t, unit)
    return f if f == t else f + unit
