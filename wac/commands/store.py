"""`wac store`, `wac migrate` and `wac schema`."""

from __future__ import annotations

import json

import click

from wac.commands.common import reports_errors
from wac.commands.output import print_stored
from wac.config import load_settings
from wac.result import json_schema


@click.command()
@click.option("--echo", is_flag=True, help="Print each result once it is in PostgreSQL.")
@reports_errors
def store(echo: bool) -> None:
    """Consume results from Kafka and store them in PostgreSQL, exactly once."""
    from wac.store.service import StoreService
    from wac.store.settings import StoreSettings

    settings = load_settings()
    service = StoreService(
        settings.kafka(),
        settings.postgres(),
        StoreSettings.from_env(),
        on_stored=print_stored if echo else None,
    )
    service.install_signal_handlers()
    service.run()


@click.command()
@reports_errors
def migrate() -> None:
    """Apply the database migrations (the store also does it at start)."""
    from wac.store.db import connect_database
    from wac.store.migrate import migrate as apply

    settings = load_settings()
    with connect_database(settings.postgres()) as conn:
        applied = apply(conn)
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@click.command()
def schema() -> None:
    """Print the JSON Schema of the v1 result message."""
    click.echo(json.dumps(json_schema(), indent=2, sort_keys=True))
