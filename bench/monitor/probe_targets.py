"""One monitor process of tcp:// or dns:// targets, for the bench's probe rates.

    python -m bench.monitor.probe_targets tcp 127.0.0.1:PORT --count N --interval S ...
    python -m bench.monitor.probe_targets dns 127.0.0.1:PORT --count N --interval S ...

The targets file takes http(s) URLs only so far, so the targets are built here, in
Python (as the tests build them), and run by the monitor service itself
(`wac.monitor.service.run_monitor`: the check loop, the same prober registry, the
Kafka publisher, SIGTERM to stop, the stats file at exit). tcp: N targets that connect
to the address (`tcp://host:port`, each its own id); dns: N targets that ask the
server for the A record of a name of their own (`dns://server/tN.bench.test`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from wac.config import load_settings
from wac.monitor.service import MonitorOptions, run_monitor
from wac.targets import Target


def targets(kind: str, address: str, count: int, interval: float, timeout: float) -> list[Target]:
    if kind == "tcp":
        urls = [f"tcp://{address}" for _ in range(count)]
        ids = [f"tcp {address} #{i}" for i in range(count)]
    else:
        urls = [f"dns://{address}/t{i}.bench.test?type=A" for i in range(count)]
        ids = urls
    return [
        Target(url=url, id=target_id, interval=interval, timeout=timeout)
        for url, target_id in zip(urls, ids, strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=["tcp", "dns"])
    parser.add_argument("address", help="host:port of the server")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--max-in-flight", type=int, default=100)
    parser.add_argument("--stats-file", type=Path, required=True)
    parser.add_argument("--summary-interval", type=float, default=5.0)
    options = parser.parse_args()
    made = targets(options.kind, options.address, options.count, options.interval, options.timeout)
    settings = load_settings(dict(os.environ))
    run_monitor(
        lambda: made,
        settings.kafka(),
        MonitorOptions(
            monitor_name=settings.monitor_name,
            max_in_flight=options.max_in_flight,
            summary_interval=options.summary_interval,
            stats_file=options.stats_file,
        ),
        initial_targets=made,
    )


if __name__ == "__main__":
    main()
