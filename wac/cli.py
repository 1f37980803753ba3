"""The `wac` command line: the group and its subcommands."""

from __future__ import annotations

import importlib
import logging
import sys

import click

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


# Each subcommand → the module that defines it (its function has the command's name).
# A command's module is imported when the command runs (or `--help` lists it): `wac
# report` need not import the Kafka client, aiohttp or pycurl, which cost it 0.4 s of
# CPU at start-up when every module was imported.
COMMANDS: dict[str, str] = {
    "monitor": "wac.commands.monitor",
    "check": "wac.commands.monitor",
    "store": "wac.commands.store",
    "migrate": "wac.commands.store",
    "schema": "wac.commands.store",
    "services": "wac.commands.services",
    "up": "wac.commands.up",
    "alert": "wac.commands.alert",
    "report": "wac.commands.report",
    "rollup": "wac.commands.report",
    "web": "wac.commands.web",
    "notice": "wac.commands.notice",
    "targets": "wac.commands.targets",
}


class LazyGroup(click.Group):
    """A group whose subcommands (COMMANDS) are imported when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = getattr(importlib.import_module(module), cmd_name)
        assert isinstance(command, click.Command), f"{module}.{cmd_name} is not a command"
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wac")
def cli() -> None:
    """wac: website availability checker.

    Monitors probe websites and publish results to Kafka; stores write them to
    PostgreSQL exactly once. Settings come from the environment or a .env file.
    """
    setup_logging()


def main() -> None:
    cli(prog_name="wac")


if __name__ == "__main__":
    main()
