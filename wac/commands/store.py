"""`wac store`, `wac migrate` and `wac schema`."""

from __future__ import annotations

import json

import click

from wac.commands.common import reports_errors
from wac.commands.output import print_stored
from wac.config import load_environment, load_settings, parse_positive_int
from wac.result import json_schema


@click.command()
@click.option("--echo", is_flag=True, help="Print each result once it is in PostgreSQL.")
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    metavar="PORT",
    help="Serve Prometheus metrics on 127.0.0.1:PORT/metrics (default WAC_STORE_METRICS_PORT).",
)
@reports_errors
def store(echo: bool, metrics_port: int | None) -> None:
    """Consume results from Kafka and store them in PostgreSQL, exactly once."""
    from wac.store.service import StoreService
    from wac.store.settings import StoreSettings

    env = load_environment()
    settings = load_settings(env)
    service = StoreService(
        settings.kafka(),
        settings.postgres(),
        StoreSettings.from_env(),
        on_stored=print_stored if echo else None,
    )
    if metrics_port is None and env.get("WAC_STORE_METRICS_PORT", "").strip():
        metrics_port = parse_positive_int(
            env["WAC_STORE_METRICS_PORT"], "WAC_STORE_METRICS_PORT", 0
        )
    if metrics_port is not None:
        from prometheus_client import CollectorRegistry

        from wac.runtime.metrics import serve
        from wac.store.metrics import StoreCollector

        registry = CollectorRegistry()
        registry.register(StoreCollector(service.stats))
        serve(metrics_port, registry)
    from wac.runtime.signals import Signals

    with Signals(lambda signum: service.stop()):
        service.run()


@click.command()
@reports_errors
def migrate() -> None:
    """Apply the database migrations (the store also does it at start)."""
    from wac.db.connect import connect_at_start
    from wac.db.migrate import migrate as apply

    settings = load_settings()
    with connect_at_start(settings.postgres(), application_name="wac-migrate") as conn:
        applied = apply(conn)
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@click.command()
def schema() -> None:
    """Print the JSON Schema of the v1 result message."""
    click.echo(json.dumps(json_schema(), indent=2, sort_keys=True))
