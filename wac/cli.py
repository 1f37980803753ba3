"""The `wac` command line: the group and its subcommands."""

from __future__ import annotations

import logging
import sys

import click

from wac.commands.alert import alert
from wac.commands.monitor import check, monitor
from wac.commands.notice import notice
from wac.commands.report import report, rollup
from wac.commands.services import services
from wac.commands.store import migrate, schema, store
from wac.commands.targets import targets
from wac.commands.up import up
from wac.commands.web import web
from wac.errors import WacError
from wac.settings import variables
from wac.settings.environment import load_environment


def setup_logging() -> None:
    """Log lines on stderr at WAC_LOG_LEVEL (environment or .env); a bad level is one
    line and exit 2, as every bad setting."""
    try:
        level = variables.WAC_LOG_LEVEL.read(load_environment())
    except WacError as exc:
        click.echo(f"wac: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_as_module(command: click.Command, module: str) -> None:
    """`python -m <module>`: `command` with wac's logging, named as it was run."""
    setup_logging()
    command.main(sys.argv[1:], prog_name=f"python -m {module}", help_option_names=["-h", "--help"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wac")
def cli() -> None:
    """wac: website availability checker.

    Monitors probe websites and publish results to Kafka; stores write them to
    PostgreSQL exactly once. Settings come from the environment or a .env file.
    """
    setup_logging()


for command in (monitor, check, store, migrate, schema, services, up, alert, report, rollup, web):
    cli.add_command(command)
cli.add_command(notice)
cli.add_command(targets)


def main() -> None:
    cli(prog_name="wac")


if __name__ == "__main__":
    main()
