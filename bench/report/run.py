"""`wac report` and the dashboard's overview over generated histories, against their goals.

    .venv/bin/python -m bench.report.run [--cases year,fleet] [--runs 5] [--keep] [--reuse]

Two data sets, each in a database of its own on the local PostgreSQL (`wac services
up`), created afresh (dropped at the end unless --keep; --reuse takes a kept one that
is less than `MAX_AGE` old):

- `year` (`wac_bench_report`): 1,000 targets checked every minute for 365 days, the
  rollups of 526 million checks. Goal: `wac report --since 365d` in 1 s or less.
- `fleet` (`wac_bench_fleet`): 20,000 targets checked every minute for 30 days.
  Goals: `/api/overview` answers in 1 s or less (its default page, a search, a status
  filter, and the fleet sorted by 30-day uptime), and `wac report --since 30d` in 2 s.

The checks themselves are not inserted (hours of COPY): the bench generates, in SQL,
what the rollup job would have made of them, in the real schema (the migrations): every
day of every target in `rollup_day`, and their sums in `rollup_week`; in the finer
tiers (`rollup_hour6`, `rollup_hour`, `rollup_minute10`, `rollup_minute`), the buckets
of every target where a window of the bench reads them, which is near its edges (a
window is whole weeks, then whole days, 6 hours, hours, 10 minutes, minutes at each
end): from a window's start to the end of the next coarser bucket (6 hours to the day,
hours to the 6 hours, 10 minutes to the hour, minutes to the 10 minutes), for windows
starting up to `MAX_AGE` after generation, and from the start of that bucket holding
the watermark to it; the rows of the 10 minutes, hour, 6 hours, day and week that hold
the watermark (their minutes up to it, which a window ending now reads), summed from
the tier below as the job sums them. Then every target's raw
checks of the last 10 minutes (the rollup watermark 3 minutes back, as the job leaves
it, so readers read a raw tail too) and its row in `targets` (status, since, last error,
certificate; 2 % of the fleet down, 1 % never checked). Each target has its own typical
latency spread over 6 histogram buckets, about 1 % of its minutes hold a failure, and
half the targets are HTTPS with a certificate expiry. Rows are made once per 20 kinds of
target and copied to every target of the kind (an INSERT ... SELECT of plain columns);
the bench's tables are unlogged (no WAL to write: reads are the same).

Printed for each goal: the median over `--runs` runs (at least 3), the spread (min to
max), the ratio of the median to the goal, PASS or FAIL, and the load average when the
runs started and ended (the machine may be shared: a busy machine shows in it). CLI
times are of the whole command (process start, connect, queries, formatting); the
overview's are the HTTP round trip to a `wac web --no-rollup` on the data set.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from tests.support.processes import stop, wait_for
from wac.db.migrate import migrate
from wac.rollups.job import recompute_tier
from wac.rollups.tiers import (
    DAY,
    FAIL_COLUMNS,
    HIST_COLUMNS,
    HOUR,
    HOUR6,
    METRIC_COLUMNS,
    MINUTE,
    MINUTE10,
    PHASE_COLUMNS,
    TIER_BELOW,
    ceil_to,
    floor_to,
)

KINDS_OF_TARGET = 20
MAX_AGE = timedelta(minutes=30)  # how long after generation a data set is read right
TIER_TABLES = (
    "rollup_week",
    "rollup_day",
    "rollup_hour6",
    "rollup_hour",
    "rollup_minute10",
    "rollup_minute",
)


@dataclass(frozen=True)
class DataSet:
    name: str
    database: str
    targets: int
    days: int


DATA_SETS = {
    "year": DataSet("year", "wac_bench_report", 1000, 365),
    "fleet": DataSet("fleet", "wac_bench_fleet", 20_000, 30),
}


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def target_name(width: int) -> sql.Composed:
    return sql.SQL("'target-' || lpad(t::text, {}, '0')").format(sql.Literal(width))


def bucket_exprs(scale: str) -> sql.Composed:
    """Column values of one generated rollup row of kind `v`, `{scale}` checks."""
    cols: list[sql.Composable] = []
    n = sql.SQL(scale)
    for col in METRIC_COLUMNS:
        e: sql.Composable
        if col == "checks":
            e = sql.SQL("{n}").format(n=n)
        elif col == "failures":
            e = sql.SQL("CASE WHEN fail THEN 1 ELSE 0 END")
        elif col == "fail_timeout":
            e = sql.SQL("CASE WHEN fail AND v % 2 = 0 THEN 1 END")
        elif col == "fail_connect":
            e = sql.SQL("CASE WHEN fail AND v % 2 = 1 THEN 1 END")
        elif col in FAIL_COLUMNS:
            e = sql.SQL("NULL::integer")
        elif col == "rt_count":
            e = sql.SQL("{n} - CASE WHEN fail THEN 1 ELSE 0 END").format(n=n)
        elif col == "rt_sum":
            e = sql.SQL("({n} - CASE WHEN fail THEN 1 ELSE 0 END) * base").format(n=n)
        elif col == "rt_min":
            e = sql.SQL("base * 0.6")
        elif col == "rt_max":
            e = sql.SQL("base * 3.1")
        elif col in PHASE_COLUMNS:
            share = {
                "resolve_ms_sum": 0.05,
                "connect_ms_sum": 0.15,
                "tls_ms_sum": 0.2,
                "processing_ms_sum": 0.5,
                "transfer_ms_sum": 0.1,
            }[col]
            e = sql.SQL("({n} - CASE WHEN fail THEN 1 ELSE 0 END) * base * {s}").format(
                n=n, s=sql.Literal(share)
            )
        elif col == "tls_expires_at":
            e = sql.SQL("CASE WHEN v % 2 = 0 THEN now() + (v * 4 + 5) * interval '1 day' END")
        else:
            i = HIST_COLUMNS.index(col)
            # six buckets around the kind's own: weights 1,2,4,2,1,(rest) of n
            e = sql.SQL(
                "CASE {i} - k WHEN -2 THEN {n} / 10 WHEN -1 THEN {n} / 5 WHEN 0 THEN {n} / 3 "
                "WHEN 1 THEN {n} / 5 WHEN 2 THEN {n} / 10 "
                "WHEN 3 THEN {n} - 2 * ({n} / 10) - 2 * ({n} / 5) - {n} / 3 END"
            ).format(i=sql.Literal(i), n=n)
        cols.append(sql.SQL("{} AS {}").format(e, sql.Identifier(col)))
    return sql.SQL(", ").join(cols)


def edge_ranges(
    now: datetime, windows: list[timedelta], unit: timedelta, around: timedelta
) -> list[tuple[datetime, datetime]]:
    """Buckets of `unit` the windows read in the finer tier, for windows that end now (the
    watermark stays where generation leaves it) and start up to MAX_AGE later than now:
    from each start to the end of its `around` (a day for hours, an hour for minutes),
    and from the start of the `around` that holds the watermark to it."""
    ranges = [
        (floor_to(now - span, unit), ceil_to(now - span + MAX_AGE, around)) for span in windows
    ]
    ranges.append((floor_to(now - 3 * MINUTE, around), now))
    return ranges


def generate_tier(
    conn: psycopg.Connection,
    table: str,
    unit: timedelta,
    ranges: list[tuple[datetime, datetime]],
    targets: int,
    watermark: datetime,
) -> int:
    per = {MINUTE: "1", MINUTE10: "10", HOUR: "60", HOUR6: "360", DAY: "1440"}[unit]
    buckets = sql.SQL(" UNION ").join(
        sql.SQL("SELECT generate_series({}::timestamptz, {}::timestamptz, {}::interval)").format(
            sql.Literal(a), sql.Literal(min(b, watermark) - unit), sql.Literal(unit)
        )
        for a, b in ranges
        if min(b, watermark) - unit >= a
    )
    conn.execute("DROP TABLE IF EXISTS bench_kind_rows")
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE bench_kind_rows AS SELECT v, b AS bucket, {exprs} FROM "
            "(SELECT v, b, 18 + v AS k, (8 + v) * 12.0 AS base, random() < 0.01 AS fail "
            " FROM generate_series(0, {kinds} - 1) AS v, ({buckets}) AS bs(b)) AS g"
        ).format(exprs=bucket_exprs(per), kinds=sql.Literal(KINDS_OF_TARGET), buckets=buckets)
    )
    cols = sql.SQL(", ").join(map(sql.Identifier, METRIC_COLUMNS))
    return conn.execute(
        sql.SQL(
            "INSERT INTO {table} (target, bucket, {cols}) SELECT {name}, bucket, {cols} "
            "FROM generate_series(1, {targets}) AS t JOIN bench_kind_rows "
            "ON bench_kind_rows.v = t % {kinds}"
        ).format(
            table=sql.Identifier(table),
            cols=cols,
            name=target_name(len(str(targets))),
            targets=sql.Literal(targets),
            kinds=sql.Literal(KINDS_OF_TARGET),
        )
    ).rowcount


def generate(conn: psycopg.Connection, data: DataSet, windows: list[timedelta]) -> None:
    """The data set in a freshly migrated database (see the module's docstring)."""
    now = conn.execute("SELECT date_trunc('minute', now())").fetchone()[0]  # type: ignore[index]
    watermark = now - 3 * MINUTE
    for table in (*TIER_TABLES, "targets"):
        conn.execute(sql.SQL("ALTER TABLE {} SET UNLOGGED").format(sql.Identifier(table)))
    tiers = [
        ("rollup_day", DAY, [(floor_to(now - timedelta(days=data.days + 1), DAY), now)]),
        ("rollup_hour6", HOUR6, edge_ranges(now, windows, HOUR6, DAY)),
        ("rollup_hour", HOUR, edge_ranges(now, windows, HOUR, HOUR6)),
        ("rollup_minute10", MINUTE10, edge_ranges(now, windows, MINUTE10, HOUR)),
        ("rollup_minute", MINUTE, edge_ranges(now, windows, MINUTE, MINUTE10)),
    ]
    # Indexes but the keys are made once the rows are in: faster than row by row.
    indexes = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
        " AND indexname NOT LIKE '%%pkey'",
        (list(TIER_TABLES),),
    ).fetchall()
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    for table, unit, ranges in tiers:
        started = time.monotonic()
        rows = generate_tier(conn, table, unit, ranges, data.targets, watermark)
        conn.commit()
        print(f"  {table}: {rows:,} rows in {time.monotonic() - started:.0f} s", flush=True)
    # The weeks as the rollup job sums them from the days (the days must be in first),
    # and the rows of the 10 minutes, hour, 6 hours, day and week that hold the watermark,
    # which hold their minutes up to it, each summed from the tier below as the job
    # leaves them (readers read them at a window's end).
    started = time.monotonic()
    rows = recompute_tier(conn, "week", floor_to(now - timedelta(days=data.days + 1), DAY), now)
    for tier in TIER_BELOW:  # finest first
        recompute_tier(conn, tier, watermark - MINUTE, watermark)
    conn.commit()
    print(f"  rollup_week: {rows:,} rows in {time.monotonic() - started:.0f} s", flush=True)
    started = time.monotonic()
    for _, definition in indexes:
        conn.execute(definition)
    conn.commit()
    print(f"  their indexes: {time.monotonic() - started:.0f} s", flush=True)
    started = time.monotonic()
    for day in {(now - timedelta(minutes=m)).date() for m in (0, 10)}:
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF checks FOR VALUES FROM ({}) TO ({})"
            ).format(
                sql.Identifier(f"checks_p{day:%Y%m%d}"),
                sql.Literal(str(day)),
                sql.Literal(str(day + timedelta(days=1))),
            )
        )
    name = target_name(len(str(data.targets)))
    # The raw tail: every target's checks of the last 10 minutes (one a minute).
    raw = conn.execute(
        sql.SQL(
            "INSERT INTO checks (id, target, url, monitor, checked_at, ok, status_code,"
            " response_time_ms, resolve_ms, connect_ms, tls_ms, processing_ms, transfer_ms,"
            " tls_expires_at, error_kind, error_message) "
            "SELECT gen_random_uuid(), {name}, 'https://site-' || t || '.example/', 'bench',"
            " m + (t % 60) * interval '1 second', ok, CASE WHEN ok THEN 200 END,"
            " CASE WHEN ok THEN rt END, rt * 0.05, rt * 0.15, rt * 0.2, rt * 0.5, rt * 0.1,"
            " CASE WHEN t % 2 = 0 THEN now() + (t % 20 * 4 + 5) * interval '1 day' END,"
            " CASE WHEN NOT ok THEN 'timeout' END, CASE WHEN NOT ok THEN 'timed out' END "
            "FROM (SELECT t, m, t % 50 <> 7 AND random() > 0.01 AS ok,"
            "  (8 + t % 20) * 12.0 * (0.8 + random() * 0.4) AS rt"
            "  FROM generate_series(1, {n}) t, generate_series({now}::timestamptz"
            "  - interval '10 minutes', {now}::timestamptz - interval '1 minute',"
            "  interval '1 minute') m) g"
        ).format(name=name, n=sql.Literal(data.targets), now=sql.Literal(now))
    ).rowcount
    # The targets' current status, as the store keeps it: every 50th down since a while,
    # every 100th never checked (no row: the store has not seen it).
    conn.execute(
        sql.SQL(
            "INSERT INTO targets (target, url, first_seen, last_seen, last_ok,"
            " last_status_code, last_error_kind, last_error_message, last_monitor,"
            " last_check_id, status_since, last_response_time_ms, tls_expires_at, last_probe) "
            "SELECT {name}, 'https://site-' || t || '.example/', {now}::timestamptz"
            " - {days}::integer * interval '1 day', {now}::timestamptz - interval '1 minute',"
            " ok, CASE WHEN ok THEN 200 END, CASE WHEN NOT ok THEN 'timeout' END,"
            " CASE WHEN NOT ok THEN 'timed out after 10000 ms' END, 'bench',"
            " gen_random_uuid(), {now}::timestamptz - (t % 997) * interval '1 minute',"
            " CASE WHEN ok THEN (8 + t % 20) * 12.0 END,"
            " CASE WHEN t % 2 = 0 THEN now() + (t % 20 * 4 + 5) * interval '1 day' END, 'http'"
            " FROM (SELECT t, t % 50 <> 7 AS ok FROM generate_series(1, {n}) t"
            "       WHERE t % 100 <> 3) g"
        ).format(
            name=name,
            n=sql.Literal(data.targets),
            now=sql.Literal(now),
            days=sql.Literal(data.days),
        )
    )
    conn.execute(
        "UPDATE rollup_state SET watermark = %s, deep_recheck_at = now(),"
        " minute_horizon = %s::timestamptz - interval '35 days'",
        (watermark, floor_to(now, DAY)),
    )
    conn.execute("CREATE TABLE bench_generated (at timestamptz NOT NULL)")
    conn.execute("INSERT INTO bench_generated VALUES (now())")
    conn.commit()
    print(f"  checks (raw tail, {raw:,}), targets: {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    print(f"  vacuum analyze: {time.monotonic() - started:.0f} s", flush=True)


def fresh(url: str) -> bool:
    """A kept data set young enough to read right (see MAX_AGE)."""
    try:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT now() - at FROM bench_generated").fetchone()
    except psycopg.Error:
        return False
    return row is not None and row[0] < MAX_AGE - timedelta(minutes=5)


def prepare(admin_url: str, data: DataSet, windows: list[timedelta], reuse: bool) -> str:
    url = with_database(admin_url, data.database)
    if reuse and fresh(url):
        print(f"{data.name}: reusing {data.database}")
        return url
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(data.database)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(data.database)))
    print(f"{data.name}: generating {data.targets:,} targets x {data.days} days in {data.database}")
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        migrate(conn)
        conn.autocommit = False
        generate(conn, data, windows)
        sizes = conn.execute(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            (list(TIER_TABLES),),
        ).fetchall()
    checks = data.targets * data.days * 1440
    print(
        f"  {', '.join(f'{n}: {c:,}' for n, c in sorted(sizes))} rows, the rollups of "
        f"{checks / 1e6:,.0f} million checks; generated in {time.monotonic() - started:.0f} s"
    )
    return url


@dataclass
class Figure:
    what: str
    goal_s: float
    times: list[float]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    def line(self) -> str:
        median = statistics.median(self.times)
        ratio = median / self.goal_s
        verdict = "PASS" if ratio <= 1 else "FAIL"
        load = f"load {self.load_before[0]:.1f} -> {self.load_after[0]:.1f}"
        return (
            f"{self.what}: median {median:.3f} s, spread {min(self.times):.3f}-"
            f"{max(self.times):.3f} s over {len(self.times)} runs; goal <= {self.goal_s:g} s: "
            f"ratio {ratio:.2f} {verdict} ({load})"
        )


def measure(what: str, goal_s: float, runs: int, once: Callable[[], object]) -> Figure:
    once()  # warm: the first run reads the data set from disk into the page cache
    before = os.getloadavg()
    times = []
    for _ in range(runs):
        started = time.monotonic()
        once()
        times.append(time.monotonic() - started)
    figure = Figure(what, goal_s, times, before, os.getloadavg())
    print(figure.line(), flush=True)
    return figure


def cli(env: dict[str, str], *args: str) -> Callable[[], str]:
    def run() -> str:
        return subprocess.run(
            [sys.executable, "-m", "wac", "report", *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(base: str, path: str) -> Callable[[], bytes]:
    def get() -> bytes:
        with urllib.request.urlopen(base + path, timeout=60) as response:
            return bytes(response.read())

    return get


def bench_year(env: dict[str, str], data: DataSet, runs: int) -> list[Figure]:
    span = f"{data.days}d"
    text = cli(env, "--since", span)()
    lines = text.splitlines()
    print(f"\n$ wac report --since {span}   ({len(lines) - 3} targets; first lines:)")
    print("\n".join("  " + line for line in lines[:5]))
    every = f"wac report --since {span}"
    return [
        measure(f"{every} ({data.targets:,} targets)", 1.0, runs, cli(env, "--since", span)),
        measure(f"{every} --json", 1.0, runs, cli(env, "--since", span, "--json")),
        measure(
            f"{every} --target target-0042",
            1.0,
            runs,
            cli(env, "--since", span, "--target", "target-0042"),
        ),
    ]


def bench_fleet(env: dict[str, str], data: DataSet, runs: int) -> list[Figure]:
    figures = [
        measure(
            f"wac report --since 30d ({data.targets:,} targets)",
            2.0,
            runs,
            cli(env, "--since", "30d"),
        ),
    ]
    port = free_port()
    web_env = {**env, "WAC_WEB_PORT": str(port)}
    web_env.pop("WAC_WEB_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "wac", "web", "--no-rollup"],
        env=web_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise SystemExit(f"wac web exited: {process.communicate()[1][-2000:]}")
        try:
            return http(base, "/healthz")() == b"ok\n"
        except OSError:
            return False

    try:
        wait_for(ready, 60, "wac web to answer")
        for what, path in (
            ("default page", "/api/overview"),
            ("search", "/api/overview?q=target-01234"),
            ("down only", "/api/overview?status=down"),
            ("by 30 d uptime", "/api/overview?sort=uptime_30d&order=asc"),
        ):
            size = len(http(base, path)())
            figures.append(
                measure(f"/api/overview {what} ({size:,} bytes)", 1.0, runs, http(base, path))
            )
    finally:
        stop(process)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="year,fleet", help="year, fleet or both")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (at least 3)")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse kept, fresh databases")
    args = parser.parse_args()
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    if not cases or any(c not in DATA_SETS for c in cases) or args.runs < 3:
        parser.error("--cases takes year, fleet or year,fleet; --runs at least 3")

    from wac.localservices import LocalServices

    local = LocalServices()
    local.up()
    env = {**os.environ, **local.env()}
    admin_url = env["POSTGRES_ENDPOINT"]
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at start")
    figures: list[Figure] = []
    try:
        for case in cases:
            data = DATA_SETS[case]
            windows = (
                [timedelta(days=data.days)]
                if case == "year"
                else [timedelta(days=30), timedelta(days=7), timedelta(hours=24)]
            )
            url = prepare(admin_url, data, windows, args.reuse)
            run_env = {**env, "POSTGRES_ENDPOINT": url}
            bench = bench_year if case == "year" else bench_fleet
            figures += bench(run_env, data, args.runs)
    finally:
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                for case in cases:
                    name = sql.Identifier(DATA_SETS[case].database)
                    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(name))
    print("\nsummary:")
    for figure in figures:
        print("  " + figure.line())
    if any(statistics.median(f.times) > f.goal_s for f in figures):
        sys.exit(1)


if __name__ == "__main__":
    main()
