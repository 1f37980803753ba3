"""What the bench reads of the processes it starts: CPU times, log lines, load.

CPU times come from the processes' own accounting (/proc/PID/stat for a monitor and its
workers, wait4's resource usage for `ab` and the bare curl loop), so a figure per check
does not depend on what else the cores run meanwhile as much as a rate does.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def process_tree(pid: int) -> list[int]:
    pids, stack = [], [pid]
    while stack:
        p = stack.pop()
        pids.append(p)
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        stack.extend(int(c) for c in children)
    return pids


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (their threads too)."""
    ticks = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / TICKS_PER_S


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (its threads, not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def rss_bytes(pid: int) -> int:
    """Resident memory of one process."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) * 1024 if match else 0


@dataclass
class Finished:
    stdout: str
    wall_s: float
    cpu_s: float  # user + system of the process and the children it waited for


def run_measured(args: list[str], env: dict[str, str] | None = None) -> Finished:
    """Run a command to its end; its output, wall time and own CPU time (wait4)."""
    started = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert process.stdout is not None
    out = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise SystemExit(f"bench: {args[0]} exited with {process.returncode}: {out[-2000:]!r}")
    return Finished(out.decode(errors="replace"), wall, usage.ru_utime + usage.ru_stime)


def load_average() -> float:
    return os.getloadavg()[0]


def log_time(line: str) -> float | None:
    """The wall-clock time (Unix seconds) of a wac log line, or None."""
    match = _LOG_TIME.match(line)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def log_lines(path: Path, after: float = 0.0) -> list[tuple[float, str]]:
    """(time, line) of each timed line of a wac log, from `after` on."""
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        at = log_time(line)
        if at is not None and at >= after:
            lines.append((at, line))
    return lines


def spread(values: list[float]) -> str:
    """`median (min-max)` of the runs' values."""
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
