"""`wac report` over a year of 1,000 targets checked every minute, in under 1 s.

    .venv/bin/python -m bench.report.run [--targets 1000] [--days 365] [--keep]

Uses the local PostgreSQL (`wac services up`) and a database of its own,
`wac_bench_report`, created afresh (dropped at the end unless --keep). A year of
1,000 targets at 1-minute intervals is 525 million checks; the bench does not insert
them (hours of COPY) but generates, with generate_series, what the rollup job would
have made of them, in the real schema (the migrations):

- rollup_day: every target, every day of the year (366,000 rows);
- rollup_hour: every target, every hour of the year (8.8 million rows);
- rollup_minute: every target, every minute of the last day (1.4 million rows), with
  `minute_horizon` 35 days back as the default retention leaves it;
- checks: a raw sample, every target's checks of the last 10 minutes, the watermark
  3 minutes back as the rollup job leaves it, so the report reads a raw tail too;
- targets: every target's current status, as the store keeps it.

Response times: each target has its own typical latency, spread over 6 histogram
buckets; about 1 % of the minutes hold a failure (timeouts, connection errors); half
the targets are HTTPS with a certificate expiry.

Printed: the size of the data set, then the wall time of `wac report --since 365d`
(the whole CLI: process start, connect, queries, formatting) and of a single-target
`wac report --since 365d --target NAME`, best and median of 5 runs, and the ratio to
the 1 s goal.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from tests.support.checks_data import store_targets
from wac.db.migrate import migrate
from wac.rollups.tiers import FAIL_COLUMNS, HIST_COLUMNS, METRIC_COLUMNS, PHASE_COLUMNS

DB = "wac_bench_report"
GOAL_S = 1.0


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def bucket_exprs(scale: str) -> sql.Composed:
    """Column values for one generated rollup row of target `t`, `{scale}` checks."""
    cols: list[sql.Composable] = []
    n = sql.SQL(scale)
    for col in METRIC_COLUMNS:
        e: sql.Composable
        if col == "checks":
            e = sql.SQL("{n}").format(n=n)
        elif col == "failures":
            e = sql.SQL("CASE WHEN fail THEN 1 ELSE 0 END")
        elif col == "fail_timeout":
            e = sql.SQL("CASE WHEN fail AND t % 2 = 0 THEN 1 END")
        elif col == "fail_connect":
            e = sql.SQL("CASE WHEN fail AND t % 2 = 1 THEN 1 END")
        elif col in FAIL_COLUMNS:
            e = sql.SQL("NULL")
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
            e = sql.SQL("CASE WHEN t % 2 = 0 THEN now() + (t % 90 + 5) * interval '1 day' END")
        else:
            i = HIST_COLUMNS.index(col)
            # six buckets around the target's own: weights 1,2,4,2,1,(rest) of n
            e = sql.SQL(
                "CASE {i} - k WHEN -2 THEN {n} / 10 WHEN -1 THEN {n} / 5 WHEN 0 THEN {n} / 3 "
                "WHEN 1 THEN {n} / 5 WHEN 2 THEN {n} / 10 "
                "WHEN 3 THEN {n} - 2 * ({n} / 10) - 2 * ({n} / 5) - {n} / 3 END"
            ).format(i=sql.Literal(i), n=n)
        cols.append(e)
    return sql.SQL(", ").join(cols)


def generate(conn: psycopg.Connection, targets: int, days: int) -> dict[str, int]:
    cols = sql.SQL(", ").join(map(sql.Identifier, ("target", "bucket", *METRIC_COLUMNS)))
    now = conn.execute("SELECT date_trunc('minute', now())").fetchone()[0]  # type: ignore[index]
    tiers = [
        ("rollup_day", "1 day", f"{days} days", "day", "1440"),
        ("rollup_hour", "1 hour", f"{days} days", "hour", "60"),
        ("rollup_minute", "1 minute", "1 day", "minute", "1"),
    ]
    counts = {}
    for table, step, span, unit, per in tiers:
        started = time.monotonic()
        query = sql.SQL(
            "INSERT INTO {table} ({cols}) "
            "SELECT 'target-' || lpad(t::text, 4, '0'), b, {exprs} FROM "
            "(SELECT t, b, 18 + t % 20 AS k, (8 + t % 20) * 12.0 AS base, "
            "        random() < 0.01 AS fail "
            " FROM generate_series(1, {targets}) AS t, "
            "  generate_series(date_trunc({unit}, {now}::timestamptz - {span}::interval, 'UTC'),"
            "    {now}::timestamptz - interval '3 minutes', {step}::interval) AS b"
            ") AS g"
        ).format(
            table=sql.Identifier(table),
            cols=cols,
            exprs=bucket_exprs(per),
            targets=sql.Literal(targets),
            unit=sql.Literal(unit),
            now=sql.Literal(now),
            span=sql.Literal(span),
            step=sql.Literal(step),
        )
        counts[table] = conn.execute(query).rowcount
        conn.commit()
        print(
            f"  {table}: {counts[table]:,} rows in {time.monotonic() - started:.0f} s", flush=True
        )
    started = time.monotonic()
    # The raw tail: every target's checks of the last 10 minutes (one a minute).
    for day in {(now - timedelta(minutes=m)).date() for m in (0, 10)}:
        name = f"checks_p{day:%Y%m%d}"
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF checks FOR VALUES FROM ({}) TO ({})"
            ).format(
                sql.Identifier(name),
                sql.Literal(str(day)),
                sql.Literal(str(day + timedelta(days=1))),
            )
        )
    counts["checks"] = conn.execute(
        "INSERT INTO checks (id, target, url, monitor, checked_at, ok, status_code,"
        " response_time_ms, resolve_ms, connect_ms, tls_ms, processing_ms, transfer_ms,"
        " tls_expires_at, error_kind, error_message) "
        "SELECT gen_random_uuid(), 'target-' || lpad(t::text, 4, '0'),"
        " 'https://site-' || t || '.example/', 'bench', m + (t %% 60) * interval '1 second',"
        " ok, CASE WHEN ok THEN 200 END, CASE WHEN ok THEN rt END, rt * 0.05, rt * 0.15,"
        " rt * 0.2, rt * 0.5, rt * 0.1,"
        " CASE WHEN t %% 2 = 0 THEN now() + (t %% 90 + 5) * interval '1 day' END,"
        " CASE WHEN NOT ok THEN 'timeout' END, CASE WHEN NOT ok THEN 'timed out' END "
        "FROM (SELECT t, m, random() > 0.01 AS ok, (8 + t %% 20) * 12.0 * (0.8 + random() * 0.4)"
        "  AS rt FROM generate_series(1, %s) t,"
        "  generate_series(%s::timestamptz - interval '10 minutes', %s::timestamptz - interval"
        "  '1 minute', interval '1 minute') m) g",
        (targets, now, now),
    ).rowcount
    # Their current status, as the store keeps it in `targets`.
    store_targets(conn, [f"target-{t:04d}" for t in range(1, targets + 1)])
    conn.execute(
        "UPDATE rollup_state SET watermark = %s::timestamptz - interval '3 minutes',"
        " minute_horizon = date_trunc('day', %s::timestamptz - interval '35 days', 'UTC'),"
        " deep_recheck_at = now()",
        (now, now),
    )
    conn.commit()
    print(f"  checks (raw tail), targets: {time.monotonic() - started:.0f} s", flush=True)
    started = time.monotonic()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    print(f"  vacuum analyze: {time.monotonic() - started:.0f} s", flush=True)
    return counts


def time_cli(args: list[str], env: dict[str, str], runs: int = 5) -> tuple[float, float, str]:
    times = []
    out = ""
    for _ in range(runs):
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "wac", "report", *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(time.monotonic() - started)
        out = proc.stdout
    return min(times), statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database")
    args = parser.parse_args()

    from wac.localservices import LocalServices

    local = LocalServices()
    local.up()
    env = {**os.environ, **local.env()}
    admin_url = env["POSTGRES_ENDPOINT"]
    url = with_database(admin_url, DB)
    if not args.reuse:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(DB)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
        print(f"generating {args.targets} targets x {args.days} days of rollups in {DB}:")
        with psycopg.connect(url) as conn:
            migrate(conn)
            counts = generate(conn, args.targets, args.days)
        raw_equiv = args.targets * args.days * 1440
        print(
            f"data set: {counts['rollup_day']:,} day + {counts['rollup_hour']:,} hour + "
            f"{counts['rollup_minute']:,} minute rollup rows + {counts['checks']:,} raw checks "
            f"= the rollups of {raw_equiv / 1e6:,.0f} million checks"
        )
    env["POSTGRES_ENDPOINT"] = url
    try:
        best, median, out = time_cli(["--since", f"{args.days}d"], env)
        lines = out.splitlines()
        print(f"\n$ wac report --since {args.days}d   ({len(lines) - 3} targets; first lines:)")
        print("\n".join("  " + line for line in lines[:6]))
        print(
            f"wac report --since {args.days}d: best {best:.3f} s, median {median:.3f} s "
            f"(goal < {GOAL_S:.0f} s: ratio {median / GOAL_S:.2f})"
        )
        best1, median1, out1 = time_cli(
            ["--since", f"{args.days}d", "--target", "target-0042"], env
        )
        print(f"\n$ wac report --since {args.days}d --target target-0042")
        print("\n".join("  " + line for line in out1.splitlines()))
        print(
            f"wac report --since {args.days}d --target target-0042: best {best1:.3f} s, "
            f"median {median1:.3f} s (goal < {GOAL_S:.0f} s: ratio {median1 / GOAL_S:.2f})"
        )
        bestj, medianj, _ = time_cli(["--since", f"{args.days}d", "--json"], env, runs=3)
        print(f"wac report --since {args.days}d --json: best {bestj:.3f} s, median {medianj:.3f} s")
    finally:
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(DB)))


if __name__ == "__main__":
    main()
