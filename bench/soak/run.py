"""Soak: the whole pipeline at a steady load for a long time; memory and fds must stay flat.

    .venv/bin/python -m bench.soak.run [--minutes 30] [--targets 500] [--interval 1]

Starts a local HTTP site, `wac store` and `wac monitor` on the local services (started if
needed), waits a warm-up, then samples each service's resident memory (process tree) and
open file descriptors every minute. Prints the first and last samples, their growth, and
the stored row count against the produced one.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.faults.scenario import produced_count_from_log
from tests.support.servers import http_site
from wac.localservices import LocalServices


@dataclass
class Sample:
    at: float
    rss_mb: float
    fds: int


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (wac monitor --workers forks worker processes)."""
    found = [pid]
    index = 0
    while index < len(found):
        current = found[index]
        index += 1
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            found.extend(int(c) for c in children)
    return found


def sample(pid: int) -> Sample:
    rss_kb = 0
    fds = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss_kb += int(line.split()[1])
            fds += len(os.listdir(f"/proc/{member}/fd"))
        except OSError:
            continue
    return Sample(time.monotonic(), rss_kb / 1024, fds)


def stored_count(env: dict[str, str], base: str, run: str) -> tuple[int, int]:
    """(rows, distinct ids) stored for this soak's targets."""
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT id) FROM checks WHERE target LIKE %s",
            (f"GET {base}/ok?soak={run}&%",),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="measured time (default 30)")
    parser.add_argument(
        "--warmup", type=float, default=60.0, help="seconds before the first sample"
    )
    parser.add_argument("--targets", type=int, default=500)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between checks")
    args = parser.parse_args()

    local = LocalServices()
    local.up()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    env.update(local.env())
    run = uuid.uuid4().hex[:10]
    env["KAFKA_TOPIC"] = f"soak-{run}"
    env["KAFKA_GROUP_ID"] = f"soak-{run}"
    env["WAC_LOG_LEVEL"] = "INFO"

    with http_site() as base, tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "targets.yaml"
        lines = [f"defaults:\n  interval: {args.interval}s\n  timeout: 2s\ntargets:\n"]
        lines += [f"  - url: {base}/ok?soak={run}&i={i}\n" for i in range(args.targets)]
        config.write_text("".join(lines))
        logs = {name: open(Path(scratch) / f"{name}.log", "w") for name in ("store", "monitor")}  # noqa: SIM115
        services = {
            "store": subprocess.Popen(
                [sys.executable, "-m", "wac", "store"], env=env, stderr=logs["store"]
            ),
            "monitor": subprocess.Popen(
                [sys.executable, "-m", "wac", "monitor", "--config", str(config)],
                env=env,
                stderr=logs["monitor"],
            ),
        }
        rate = args.targets / args.interval
        print(
            f"soak: {args.targets} targets every {args.interval:g} s (~{rate:.0f} checks/s), "
            f"warm-up {args.warmup:g} s, measuring {args.minutes:g} min",
            flush=True,
        )
        time.sleep(args.warmup)
        samples: dict[str, list[Sample]] = {name: [] for name in services}
        deadline = time.monotonic() + args.minutes * 60
        while True:
            for name, process in services.items():
                if process.poll() is not None:
                    sys.exit(f"soak: {name} exited with code {process.returncode}")
                samples[name].append(sample(process.pid))
            now = time.monotonic()
            if now >= deadline:
                break
            time.sleep(min(60.0, deadline - now))
        # The monitor first (it flushes what it produced), then the store once it has
        # caught up: stopping both at once would leave the last results in Kafka only.
        services["monitor"].send_signal(signal.SIGTERM)
        services["monitor"].wait(timeout=60)
        logs["monitor"].flush()
        produced = produced_count_from_log((Path(scratch) / "monitor.log").read_text())
        deadline = time.monotonic() + 120
        while stored_count(env, base, run)[1] < produced and time.monotonic() < deadline:
            time.sleep(0.5)
        services["store"].send_signal(signal.SIGTERM)
        services["store"].wait(timeout=60)
        for handle in logs.values():
            handle.close()

    row = stored_count(env, base, run)
    print(
        f"{'service':8} {'rss start':>10} {'rss end':>10} {'growth':>8} "
        f"{'fds start':>9} {'fds end':>8}"
    )
    for name, series in samples.items():
        first, last = series[0], series[-1]
        growth = (last.rss_mb - first.rss_mb) / first.rss_mb * 100
        print(
            f"{name:8} {first.rss_mb:9.1f}M {last.rss_mb:9.1f}M {growth:7.1f}% "
            f"{first.fds:9d} {last.fds:8d}"
        )
    print(
        f"produced {produced}, stored {row[0]} rows ({row[1]} distinct ids): "
        f"lost {produced - row[1]}, duplicated {row[0] - row[1]}, over "
        f"{(series[-1].at - series[0].at) / 60:.1f} measured minutes"
    )


if __name__ == "__main__":
    main()
