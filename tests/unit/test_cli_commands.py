"""The `wac` group imports a subcommand's module only when that command is asked for."""

from __future__ import annotations

import subprocess
import sys

import click

from wac.cli import COMMANDS, cli


def test_every_listed_command_resolves_to_a_command_of_its_name() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name
    assert cli.get_command(ctx, "no-such-command") is None


def test_report_imports_neither_kafka_nor_the_web_server_nor_curl() -> None:
    # A fresh interpreter: this test process may have imported them already.
    code = (
        "import sys, click\n"
        "from wac.cli import cli\n"
        "cli.get_command(click.Context(cli), 'report')\n"
        "heavy = ('confluent_kafka', 'aiohttp', 'pycurl', 'cryptography')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
