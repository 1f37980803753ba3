"""`wac services up|down|status|env`: the local Kafka and PostgreSQL.

Their settings (`WAC_HOME`, `WAC_KAFKA_PORT`, `WAC_POSTGRES_PORT`, ...) come from the
environment over `.env`, as every command's do.
"""

from __future__ import annotations

import shlex
import sys
import time

import click

from wac.commands.common import reports_errors
from wac.settings.environment import given, load_environment

# What `wac services env` prints: where the services are. The topic and the other
# settings are the user's (their defaults are what the local services use).
POINTERS = ("KAFKA_ENDPOINT", "KAFKA_PLAINTEXT_ENDPOINT", "KAFKA_CERT_DIR", "POSTGRES_ENDPOINT")
NOT_RUNNING = 3  # `status` when a service is not running (LSB's "program is not running")


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
    """Say what runs where; exit 0 when both run, 3 when one does not."""
    from wac.localservices import LocalServices

    local = LocalServices()
    statuses = local.status()
    for status in statuses:
        if status.running:
            state = f"running (pid {status.pid})"
        elif status.port_taken_by is not None:
            state = (
                f"not running here (WAC_HOME {local.home}); its port is taken by "
                f"{status.port_taken_by}"
            )
        else:
            state = "stopped"
        click.echo(f"{status.name}: {state} at {status.endpoint}, log {status.log_path}")
    if not all(status.running for status in statuses):
        sys.exit(NOT_RUNNING)


@services.command("env")
@reports_errors
def services_env() -> None:
    """Print `export NAME=value` lines pointing any command at the local services.

    A setting you gave (environment or .env) is never printed, so never overridden."""
    from wac.localservices import LocalServices

    env = load_environment()
    for name, value in LocalServices(env=env).env().items():
        if name not in POINTERS:
            continue
        if not given(env, name):
            click.echo(f"export {name}={shlex.quote(value)}")
        elif env[name] != value:
            click.echo(f"wac services env: {name} is yours (environment or .env): kept", err=True)


@services.command("fetch-jars", hidden=True)
@reports_errors
def services_fetch_jars() -> None:
    """Fetch Kafka's jars into the local services' folder (scripts/setup.sh runs it)."""
    from wac.localservices import LocalServices

    local = LocalServices()
    local.fetch_jars()
    click.echo(f"Kafka jars in {local.paths.kafka_libs}")
