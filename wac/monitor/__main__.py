"""The seed's entry point: `python -m wac.monitor <url> [--period N]`.

Same as `wac monitor`; kept so that existing deployments keep working.
"""

import sys

from wac.cli import cli


def main() -> None:
    cli(["monitor", *sys.argv[1:]], prog_name="python -m wac.monitor")


if __name__ == "__main__":
    main()
