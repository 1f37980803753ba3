"""The seed's entry point: `python -m wac.monitor <url>... [--period N]`.

Same as `wac monitor`; kept so that existing deployments keep working.
"""

from wac.cli import run_as_module
from wac.commands.monitor import monitor


def main() -> None:
    run_as_module(monitor, "wac.monitor")


if __name__ == "__main__":
    main()
