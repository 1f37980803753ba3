"""`wac monitor --workers N`: N monitor processes, each with its shard of the targets.

One Python process runs its check loop on one core; `--workers` uses more. The parent
starts `wac monitor ... --shard (i + n*j)/(n*N)` children (see wac.monitor.sharding)
under the runtime's supervisor (SIGTERM/SIGINT stop them, SIGHUP reloads them, one that
fails stops them all), and merges their stats.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from wac.monitor.sharding import Shard
from wac.runtime.supervisor import Child, Supervisor

log = logging.getLogger(__name__)


def release_memory() -> None:
    """Hand what the supervisor no longer holds (the targets it read to check the file)
    back to the system: the collector, then glibc's free lists (`malloc_trim`)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: kept for reuse
        ctypes.CDLL(None).malloc_trim(0)


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
        Child(
            f"worker for shard {shard}",
            [sys.executable, "-m", "wac", "monitor", *child_args(shard, path)],
            stops_first=True,
            reloads=True,
        )
        for shard, path in zip(shards, stats_files, strict=True)
    ]
    log.info("started %d monitor workers (shards %s)", len(children), ", ".join(map(str, shards)))
    supervisor = Supervisor(children, label="wac monitor --workers")
    exit_code = supervisor.run()
    if stats_file is not None:
        # Here, not at the top: a supervisor does without the checking machinery.
        from wac.monitor.service import merge_stats, write_stats

        parts = [json.loads(p.read_text()) for p in stats_files if p is not None and p.exists()]
        write_stats(stats_file, merge_stats(parts))
        for path in stats_files:
            if path is not None:
                path.unlink(missing_ok=True)
    return exit_code
