"""The seed's entry point: `python -m wac.monitor <url>... [--period N]`.

Same as `wac monitor`; kept so that existing deployments keep working.
"""

import sys

from wac.cli import setup_logging
from wac.commands.monitor import monitor


def main() -> None:
    setup_logging()
    monitor.main(
        sys.argv[1:], prog_name="python -m wac.monitor", help_option_names=["-h", "--help"]
    )


if __name__ == "__main__":
    main()
