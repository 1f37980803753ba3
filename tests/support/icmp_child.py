"""Check ICMP targets in a process of their own and print each result's JSON on a line.

    python -m tests.support.icmp_child TIMEOUT URL...

The ICMP tests run it in network namespaces of their own (`unshare --net`), where a
sysctl may be set without touching the host's, and with CAP_NET_RAW dropped.
"""

from __future__ import annotations

import sys

from wac.probes.once import run_checks
from wac.result import encode
from wac.targets import Target


def main(argv: list[str]) -> None:
    timeout = float(argv[0])
    targets = [Target(url=url, id=url, timeout=timeout) for url in argv[1:]]
    for result in run_checks(targets, "icmp-child"):
        sys.stdout.write(encode(result).decode() + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
