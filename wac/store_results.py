"""The seed's entry point: `python -m wac.store_results`.

Same as `wac store`, kept so that existing deployments keep working. As the seed's
store did, it accepts any arguments and ignores those it does not know (saying so in
one line): a compose file may run it with the monitor's command line.
"""

import sys

from wac.cli import setup_logging
from wac.commands.store import seed_store


def main() -> None:
    setup_logging()
    seed_store.main(
        sys.argv[1:], prog_name="python -m wac.store_results", help_option_names=["-h", "--help"]
    )


if __name__ == "__main__":
    main()
