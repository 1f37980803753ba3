"""The scale figures: one monitor process with 100,000 targets (every 60 s, against the
bench's nginx), from a targets file and in fleet mode.

- start-up: from the process's start to the check loop holding every target (its log
  line `targets: ... 100000 in all`), targets file read and Kafka connected;
- reload: every target changed (its timeout). From a file: the file rewritten in place
  (its size and time kept, so that only the signal reloads it), SIGHUP, and the time to
  the loop's line saying all are changed. In fleet mode: `wac targets apply` of the
  changed file, and the time from its end (every record in the topic) to the loop's
  lines adding up to every target changed (the time from its start is printed too);
- lateness: the highest p99 of the one-second summary lines while the reload runs (to
  one second after it ended), and in the 3 s before it (`*_p99_before_ms`: what the
  loop's lateness already is on these cores without a reload);
- memory: the process's peak resident memory;
- the monitor process's own CPU time (its threads, not a child) from the reload's start
  to the loop's last line (`reload_cpu_s`), and that less the CPU its checks took at the
  same rate in the 3 s before (`reload_extra_cpu_s`): what the reload cost the monitor's
  process (from a file, read in a child: unpickling the differences, applying them).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from bench.monitor.measure import log_lines, process_cpu_s, rss_bytes, run_measured

SCALE_TARGETS = 100_000
SCALE_INTERVAL_S = 60
_IN_ALL = re.compile(r"targets: (\d+) added, (\d+) removed, (\d+) changed, (\d+) in all")
_P99 = re.compile(r"lateness p99 (\d+) ms")


def write_targets(path: Path, base_url: str, timeout_s: int) -> None:
    """The 100,000 targets; `timeout_s` (one digit) changes every target, not the size."""
    lines = [f"defaults:\n  interval: {SCALE_INTERVAL_S}s\n  timeout: {timeout_s}s\ntargets:\n"]
    lines += [f"  - url: {base_url}?t={i}\n" for i in range(SCALE_TARGETS)]
    text = "".join(lines)
    if path.exists():
        stat = path.stat()
        with path.open("r+") as f:  # same inode and size; the old time put back below
            f.write(text)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    else:
        path.write_text(text)


class ScaleMonitor:
    """A `wac monitor` process whose log lines are read for the figures."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], workdir: Path) -> None:
        self.log_path = workdir / f"{name}.log"
        env = dict(env)
        env["KAFKA_TOPIC"] = f"wac-bench-{name}-{uuid.uuid4().hex[:8]}"
        env["WAC_MONITOR_NAME"] = f"bench-{name}"
        self.started = time.time()
        with self.log_path.open("w") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "wac", "monitor", *args, "--summary-interval", "1"],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        self.peak_rss = 0

    def sample(self) -> None:
        self.peak_rss = max(self.peak_rss, rss_bytes(self.process.pid))
        if self.process.poll() is not None:
            raise SystemExit(f"bench: monitor exited early, see {self.log_path}")

    def wait_for(self, done: Callable[[list[tuple[float, str]]], float | None], what: str) -> float:
        """Sample memory until `done(log lines)` returns something; that."""
        deadline = time.monotonic() + 180.0
        while True:
            self.sample()
            found = done(log_lines(self.log_path))
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {what} did not happen, see {self.log_path}")
            time.sleep(0.1)

    def idle(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sample()
            time.sleep(0.1)

    def cpu_rate(self, seconds: float) -> float:
        """Idle for `seconds`: the process's CPU seconds per second meanwhile."""
        cpu, began = process_cpu_s(self.process.pid), time.monotonic()
        self.idle(seconds)
        return (process_cpu_s(self.process.pid) - cpu) / (time.monotonic() - began)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(120)


def _all_in(lines: list[tuple[float, str]]) -> float | None:
    """When the loop first held every target."""
    for at, line in lines:
        match = _IN_ALL.search(line)
        if match and int(match.group(4)) >= SCALE_TARGETS:
            return at
    return None


def _all_changed(after: float) -> Callable[[list[tuple[float, str]]], float | None]:
    """When the loop's lines since `after` add up to every target changed."""

    def done(lines: list[tuple[float, str]]) -> float | None:
        changed = 0
        for at, line in lines:
            match = _IN_ALL.search(line)
            if at >= after and match:
                changed += int(match.group(3))
                if changed >= SCALE_TARGETS:
                    return at
        return None

    return done


def _worst_p99(log_path: Path, start: float, end: float) -> float:
    worst = 0.0
    for at, line in log_lines(log_path, start):
        match = _P99.search(line)
        if at <= end and match:
            worst = max(worst, float(match.group(1)))
    return worst


def file_round(index: int, env: dict[str, str], workdir: Path, ok_url: str) -> dict[str, float]:
    path = workdir / f"scale-{index}.yaml"
    if path.exists():
        path.unlink()
    write_targets(path, ok_url, 2)
    monitor = ScaleMonitor(
        f"scale-file-{index}", ["--config", str(path), "--workers", "1"], env, workdir
    )
    try:
        ready = monitor.wait_for(_all_in, "loading 100,000 targets")
        startup = ready - monitor.started
        quiet = time.time()
        idle_rate = monitor.cpu_rate(3.0)
        write_targets(path, ok_url, 3)
        cpu_before = process_cpu_s(monitor.process.pid)
        began = time.time()
        monitor.process.send_signal(signal.SIGHUP)
        applied = monitor.wait_for(_all_changed(began), "the reload")
        reload_cpu = process_cpu_s(monitor.process.pid) - cpu_before
        monitor.idle(1.5)
        p99 = _worst_p99(monitor.log_path, began, applied + 1.0)
    finally:
        monitor.stop()
    return {
        "startup_s": startup,
        "reload_s": applied - began,
        "reload_p99_ms": p99,
        "reload_p99_before_ms": _worst_p99(monitor.log_path, quiet + 1.0, began),
        "reload_cpu_s": reload_cpu,
        "reload_extra_cpu_s": reload_cpu - idle_rate * (applied - began),
        "rss_mb": monitor.peak_rss / 2**20,
    }


class FleetTopic:
    """A targets topic of the bench's own, holding the 100,000 targets."""

    def __init__(self, env: dict[str, str], workdir: Path, ok_url: str) -> None:
        self.env = dict(env)
        self.env["KAFKA_TARGETS_TOPIC"] = f"wac-bench-targets-{uuid.uuid4().hex[:8]}"
        self.files = [workdir / "fleet-2s.yaml", workdir / "fleet-3s.yaml"]
        write_targets(self.files[0], ok_url, 2)
        write_targets(self.files[1], ok_url, 3)
        self.current = 0
        self.apply_s = self.apply(0)

    def apply(self, which: int) -> float:
        done = run_measured(
            [sys.executable, "-m", "wac", "targets", "apply", str(self.files[which])], self.env
        )
        self.current = which
        return done.wall_s


def fleet_round(index: int, topic: FleetTopic, workdir: Path) -> dict[str, float]:
    location = f"bench-{index}-{uuid.uuid4().hex[:6]}"
    monitor = ScaleMonitor(
        f"scale-fleet-{index}",
        ["--fleet", "--location", location, "--workers", "1"],
        topic.env,
        workdir,
    )
    try:
        ready = monitor.wait_for(_all_in, "loading 100,000 targets from the topic")
        startup = ready - monitor.started
        quiet = time.time()
        idle_rate = monitor.cpu_rate(3.0)
        cpu_before = process_cpu_s(monitor.process.pid)
        began = time.time()
        topic.apply(1 - topic.current)
        published = time.time()
        applied = monitor.wait_for(_all_changed(began), "the changes from the topic")
        reload_cpu = process_cpu_s(monitor.process.pid) - cpu_before
        monitor.idle(1.5)
        p99 = _worst_p99(monitor.log_path, began, max(applied, published) + 1.0)
    finally:
        monitor.stop()
    return {
        "fleet_startup_s": startup,
        "fleet_reload_s": max(0.0, applied - published),
        "fleet_reload_from_apply_s": applied - began,
        "fleet_reload_p99_ms": p99,
        "fleet_reload_p99_before_ms": _worst_p99(monitor.log_path, quiet + 1.0, began),
        "fleet_reload_cpu_s": reload_cpu,
        "fleet_reload_extra_cpu_s": reload_cpu - idle_rate * (applied - began),
        "fleet_rss_mb": monitor.peak_rss / 2**20,
    }
