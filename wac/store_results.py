"""The seed's entry point: `python -m wac.store_results`.

Same as `wac store`, kept so that existing deployments keep working. As the seed's
store did, it accepts any arguments and ignores those it does not know (saying so in
one line): a compose file may run it with the monitor's command line.
"""

from wac.cli import run_as_module
from wac.commands.store import seed_store


def main() -> None:
    run_as_module(seed_store, "wac.store_results")


if __name__ == "__main__":
    main()
