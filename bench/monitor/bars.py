"""The monitor's ratio bars, each measured against its reference in the same round.

One round: `ab` against nginx (requests/s, and its CPU per request from wait4); one
monitor process (`--workers 1`) and the default settings against the same nginx, with
more due checks than they can run (results/s reaching Kafka, CPU per check from
/proc); over HTTPS with a full handshake per check, a bare pycurl multi loop
(bench/monitor/bare_curl.py) and one monitor process. Then the scale figures with
100,000 targets, from a targets file and in fleet mode (bench/monitor/scale.py).
`main` (bench/monitor/run.py) runs the rounds and prints each ratio's median and range.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bench.monitor.measure import load_average, run_measured

if TYPE_CHECKING:
    from bench.monitor.run import Nginx

FLOOD_TARGETS = 4000  # every 0.2 s: far more due checks than a process can run
FLOOD_INTERVAL = 0.2
AB_REQUESTS = 50_000
AB_CONCURRENCY = 50
BARE_IN_FLIGHT = 100


def ab(url: str, requests: int = AB_REQUESTS) -> tuple[float, float]:
    """ab's requests/s and CPU µs per request (fresh connection per request)."""
    done = run_measured(["ab", "-q", "-n", str(requests), "-c", str(AB_CONCURRENCY), url])
    match = re.search(r"Requests per second:\s+([\d.]+)", done.stdout)
    assert match, done.stdout
    failed = re.search(r"Failed requests:\s+(\d+)", done.stdout)
    if failed and int(failed.group(1)):
        print(f"[bench] ab: {failed.group(1)} failed requests", file=sys.stderr)
    return float(match.group(1)), done.cpu_s / requests * 1e6


def bare_curl(url: str, seconds: float, ca_file: str) -> tuple[float, float]:
    """The bare pycurl multi loop's requests/s and CPU µs per request."""
    done = run_measured(
        [
            *(sys.executable, "-m", "bench.monitor.bare_curl", url, "--seconds", str(seconds)),
            *("--in-flight", str(BARE_IN_FLIGHT), "--cainfo", ca_file),
        ]
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["failed"]:
        print(f"[bench] bare loop: {figures['failed']} failed requests", file=sys.stderr)
    return figures["requests"] / figures["seconds"], figures["cpu_s"] / figures["requests"] * 1e6


def ratio_round(
    index: int,
    env: dict[str, str],
    workdir: Path,
    nginx: Nginx,
    *,
    window: float,
    max_in_flight: int,
) -> dict[str, float]:
    """One round of the ratio bars; every ratio's two sides measured in this round."""
    from bench.monitor.run import log, run_monitor

    load = load_average()
    ok_url = f"{nginx.base}/ok"
    ab_rps, ab_cpu_us = ab(ok_url)
    log(f"round {index}: ab {ab_rps:,.0f} requests/s, {ab_cpu_us:.1f} µs CPU per request")
    urls = [f"{ok_url}?t={i}" for i in range(FLOOD_TARGETS)]
    one = run_monitor(
        f"one-{index}",
        env,
        workdir,
        urls,
        FLOOD_INTERVAL,
        workers=1,
        max_in_flight=max_in_flight,
        warmup=3.0,
        window=window,
    )
    default = run_monitor(
        f"default-{index}",
        env,
        workdir,
        urls,
        FLOOD_INTERVAL,
        workers=None,
        max_in_flight=None,
        warmup=3.0,
        window=window,
    )
    bare_rps, bare_cpu_us = bare_curl(f"{nginx.tls_base}/ok", window, nginx.ca_file)
    log(f"round {index}: bare curl loop over HTTPS {bare_rps:,.0f} requests/s")
    https = run_monitor(
        f"https-{index}",
        env,
        workdir,
        [f"{nginx.tls_base}/ok?t={i}" for i in range(FLOOD_TARGETS)],
        FLOOD_INTERVAL,
        workers=1,
        max_in_flight=max_in_flight,
        extra_env={"WAC_CA_BUNDLE": nginx.ca_file},
        warmup=3.0,
        window=window,
    )
    return {
        "load": load,
        "ab_rps": ab_rps,
        "ab_cpu_us": ab_cpu_us,
        "one_cps": one.rate,
        "one_ratio": one.rate / ab_rps,
        "one_cpu_us": one.cpu_per_check_us,
        "cpu_ratio": one.cpu_per_check_us / ab_cpu_us,
        "default_cps": default.rate,
        "default_ratio": default.rate / ab_rps,
        "default_cpu_us": default.cpu_per_check_us,
        "bare_https_rps": bare_rps,
        "bare_https_cpu_us": bare_cpu_us,
        "https_cps": https.rate,
        "https_ratio": https.rate / bare_rps,
        "https_cpu_us": https.cpu_per_check_us,
    }
