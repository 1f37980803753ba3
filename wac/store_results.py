"""The seed's entry point: `python -m wac.store_results`.

Same as `wac store`; kept so that existing deployments keep working.
"""

import sys

from wac.cli import cli


def main() -> None:
    cli(["store", *sys.argv[1:]], prog_name="python -m wac.store_results")


if __name__ == "__main__":
    main()
