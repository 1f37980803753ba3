"""What one rollup pass costs the database over 20,000 targets: the tiers above the
minutes recomputed for one new minute, with the tiers as the job chains them now and as
it chained them before migration 0154 (hours from minutes, days from hours).

    .venv/bin/python -m bench.report.rollup_pass [--targets 20000] [--runs 5]

In a database of its own (`wac_bench_rollup_pass`, dropped at the end), generated as
`bench.report.run` generates its rows: the minutes, 10 minutes, hours and 6 hours of
the current week that a pass reads, the watermark at minute 59 of an hour, 23:59 of a
day (the worst case: a pass then sums the most rows below each tier). Printed per chain:
the median CPU of the PostgreSQL backend (from /proc) and wall time over `--runs` runs,
with the load average. The new minute's rows from raw checks cost the same in both
chains and are not timed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import datetime

import psycopg
from psycopg import sql

from bench.report.run import generate_tier, with_database
from wac.db.migrate import migrate
from wac.rollups import job
from wac.rollups.tiers import DAY, HOUR, HOUR6, MINUTE, MINUTE10, WEEK, floor_to

DATABASE = "wac_bench_rollup_pass"
CHAINS = {
    "before 0154 (hour <- minute, day <- hour, week <- day)": {
        "hour": "minute",
        "day": "hour",
        "week": "day",
    },
    "now (10 min <- minute, hour <- 10 min, 6 h <- hour, day <- 6 h, week <- day)": dict(
        job.TIER_BELOW
    ),
}


def backend_cpu(conn: psycopg.Connection) -> float:
    """CPU seconds (user + system) of this connection's backend so far."""
    with open(f"/proc/{conn.info.backend_pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_pass(conn: psycopg.Connection, chain: dict[str, str], minute: datetime) -> None:
    saved = dict(job.TIER_BELOW)
    job.TIER_BELOW.clear()
    job.TIER_BELOW.update(chain)
    try:
        for tier in chain:  # finest first
            job.recompute_tier(conn, tier, minute, minute + MINUTE)
    finally:
        job.TIER_BELOW.clear()
        job.TIER_BELOW.update(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    admin_url = os.environ["POSTGRES_ENDPOINT"]
    url = with_database(admin_url, DATABASE)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(DATABASE)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
            conn.autocommit = False
            now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
            # The last minute of a day: every tier below holds the most rows.
            minute = floor_to(now, DAY) - MINUTE
            week = floor_to(minute, WEEK)
            hour, day = floor_to(minute, HOUR), floor_to(minute, DAY)
            for table, unit, lo in (
                ("rollup_minute", MINUTE, hour),
                ("rollup_minute10", MINUTE10, hour),
                ("rollup_hour", HOUR, day),
                ("rollup_hour6", HOUR6, day),
                ("rollup_day", DAY, week),
            ):
                rows = generate_tier(
                    conn, table, unit, [(lo, minute + MINUTE)], args.targets, minute + MINUTE
                )
                print(f"  {table}: {rows:,} rows", flush=True)
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")
            print(f"{os.cpu_count()} cores, {args.targets:,} targets, the pass of {minute}")
            for name, chain in CHAINS.items():
                one_pass(conn, chain, minute)  # warm
                cpu, wall = [], []
                load = os.getloadavg()[0]
                for _ in range(args.runs):
                    c0, t0 = backend_cpu(conn), time.monotonic()
                    with conn.transaction():
                        one_pass(conn, chain, minute)
                    cpu.append(backend_cpu(conn) - c0)
                    wall.append(time.monotonic() - t0)
                print(
                    f"{name}: backend CPU median {statistics.median(cpu):.2f} s "
                    f"({min(cpu):.2f}-{max(cpu):.2f}), wall {statistics.median(wall):.2f} s "
                    f"over {args.runs} runs (load {load:.1f} -> {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(DATABASE)))


if __name__ == "__main__":
    main()
