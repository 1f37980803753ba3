"""What reading a reload of 100,000 changed targets costs the monitor's process, without
Kafka or a check loop: read here (as the monitor did before wac.monitor.reload_child: the
GIL's switch interval at 0.5 ms, the collector held off), then in a forked child.

    .venv/bin/python -m bench.monitor.reload_stall [--rounds 2]

For each: the wall time, this process's own CPU time (a child's is not counted), and the
gaps of a thread that sleeps 1 ms in a loop meanwhile (its p99 and longest: how long a
thread that wants the GIL, as the check loop does, may wait). The load average is
printed with each line.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.monitor.scale import write_targets
from tests.support.gil_gaps import thread_gaps
from wac.monitor.gc_pause import GC_PAUSE
from wac.monitor.reload_child import read_differences
from wac.targets import Target, load_targets_file


def measure(label: str, work: Callable[[], object]) -> None:
    with thread_gaps() as gaps:
        wall, cpu = time.monotonic(), time.process_time()
        work()
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    print(
        f"{label:<22} wall {wall:5.2f} s  this process's CPU {cpu:4.2f} s  other thread's "
        f"wait p99 {gaps[int(len(gaps) * 0.99)] * 1000:3.0f} ms, longest "
        f"{gaps[-1] * 1000:3.0f} ms  (load {os.getloadavg()[0]:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wac-reload-stall-") as folder:
        before, after = Path(folder) / "before.yaml", Path(folder) / "after.yaml"
        write_targets(before, "http://127.0.0.1:9/ok", 2)
        write_targets(after, "http://127.0.0.1:9/ok", 3)  # every target changed
        current = {t.id: t for t in load_targets_file(before, default_timeout=1.0)}

        def load() -> list[Target]:
            return load_targets_file(after, default_timeout=1.0)

        def here() -> None:
            switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(0.0005)
            try:
                with GC_PAUSE.held():
                    wanted = {t.id: t for t in load()}
                    _ = [t for i, t in wanted.items() if current.get(i) != t]
            finally:
                sys.setswitchinterval(switch_interval)

        for _ in range(options.rounds):
            measure("read here (before)", here)
            measure("read in a child", lambda: read_differences(load, current))


if __name__ == "__main__":
    main()
