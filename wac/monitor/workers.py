"""`wac monitor --workers N`: N monitor processes, each with its shard of the targets.

One Python process runs its check loop on one core; `--workers` uses more. The parent
starts `wac monitor ... --shard (i + n*j)/(n*N)` children (see wac.monitor.sharding), forwards
SIGTERM/SIGINT/SIGHUP to them, stops them all when one fails, and merges their stats.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from wac.monitor.service import merge_stats, write_stats
from wac.monitor.sharding import Shard

log = logging.getLogger(__name__)


def run_workers(
    child_args: Callable[[Shard, Path | None], Sequence[str]],
    shards: Sequence[Shard],
    *,
    stats_file: Path | None = None,
) -> int:
    """Run one `wac monitor` per shard until a signal or a failure; the exit code."""
    stats_files = [
        stats_file.with_name(f"{stats_file.name}.{j}") if stats_file is not None else None
        for j in range(len(shards))
    ]
    for path in stats_files:
        if path is not None:
            path.unlink(missing_ok=True)
    children = [
        subprocess.Popen([sys.executable, "-m", "wac", "monitor", *child_args(shard, path)])
        for shard, path in zip(shards, stats_files, strict=True)
    ]
    log.info("started %d monitor workers (shards %s)", len(children), ", ".join(map(str, shards)))
    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if signum != signal.SIGHUP:
            stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {
        sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    exit_code = 0
    try:
        while any(child.poll() is None for child in children):
            for shard, child in zip(shards, children, strict=True):
                code = child.poll()
                if code is not None and code != 0 and not stopping:
                    log.error("worker for shard %s exited with code %d; stopping all", shard, code)
                    exit_code = code
                    forward(signal.SIGTERM, None)
            time.sleep(0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if exit_code == 0:
        exit_code = max((child.returncode for child in children), default=0)
    if stats_file is not None:
        parts = [json.loads(p.read_text()) for p in stats_files if p is not None and p.exists()]
        write_stats(stats_file, merge_stats(parts))
        for path in stats_files:
            if path is not None:
                path.unlink(missing_ok=True)
    return exit_code
