"""`wac services up|down|status|env`: the local Kafka and PostgreSQL."""

from __future__ import annotations

import shlex
import time

import click

from wac.commands.common import reports_errors


@click.group()
def services() -> None:
    """Local Kafka and PostgreSQL for development, tests and `wac up`."""


@services.command("up")
@reports_errors
def services_up() -> None:
    """Start local Kafka and PostgreSQL (idempotent); returns when both are ready."""
    from wac.localservices import LocalServices

    started = time.monotonic()
    local = LocalServices()
    local.up()
    click.echo(f"local services ready in {time.monotonic() - started:.1f} s")
    for status in local.status():
        click.echo(f"  {status.name}: {status.endpoint} (log {status.log_path})")
    click.echo('point commands at them with: eval "$(wac services env)"')


@services.command("down")
@reports_errors
def services_down() -> None:
    """Stop local Kafka and PostgreSQL."""
    from wac.localservices import LocalServices

    LocalServices().down()
    click.echo("local services stopped")


@services.command("status")
@reports_errors
def services_status() -> None:
    """Say what runs where."""
    from wac.localservices import LocalServices

    for status in LocalServices().status():
        state = f"running (pid {status.pid})" if status.running else "stopped"
        click.echo(f"{status.name}: {state} at {status.endpoint}, log {status.log_path}")


@services.command("env")
@reports_errors
def services_env() -> None:
    """Print `export NAME=value` lines pointing any command at the local services."""
    from wac.localservices import LocalServices

    for name, value in LocalServices().env().items():
        click.echo(f"export {name}={shlex.quote(value)}")


@services.command("fetch-jars", hidden=True)
@reports_errors
def services_fetch_jars() -> None:
    """Fetch Kafka's jars into the local services' folder (scripts/setup.sh runs it)."""
    from wac.localservices import LocalServices

    local = LocalServices()
    local.fetch_jars()
    click.echo(f"Kafka jars in {local.paths.kafka_libs}")
