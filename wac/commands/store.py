"""`wac store`, `wac migrate` and `wac schema`."""

from __future__ import annotations

import json

import click

from wac.commands.common import reports_errors
from wac.commands.output import print_stored
from wac.config import load_environment, load_settings, redact_userinfo
from wac.result import json_schema
from wac.safe_text import visible
from wac.settings import variables as v
from wac.settings.options import option

SEED_STORE_HELP = """The seed's store: consume results from Kafka and store them in PostgreSQL.

Same as `wac store`. Arguments it does not know are ignored, as the seed's store
ignored its arguments (a compose file may give it the monitor's `--period 2`)."""


@click.command()
@click.option("--echo", is_flag=True, help="Print each result once it is in PostgreSQL.")
@option(v.WAC_STORE_METRICS_PORT, "--metrics-port", metavar="PORT")
@reports_errors
def store(echo: bool, metrics_port: str | None) -> None:
    """Consume results from Kafka and store them in PostgreSQL, exactly once."""
    run_store(echo, metrics_port)


@click.command(
    help=SEED_STORE_HELP,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.option("--echo", is_flag=True, help="Print each result once it is in PostgreSQL.")
@option(v.WAC_STORE_METRICS_PORT, "--metrics-port", metavar="PORT")
@click.argument("ignored", nargs=-1, type=click.UNPROCESSED, metavar="[IGNORED]...")
@reports_errors
def seed_store(echo: bool, metrics_port: str | None, ignored: tuple[str, ...]) -> None:
    if ignored:
        shown = " ".join(redact_userinfo(argument) for argument in ignored)  # URLs' credentials
        click.echo(
            f"python -m wac.store_results: ignoring {visible(shown)[:200]} (as the seed's "
            "store did; see `python -m wac.store_results --help`)",
            err=True,
        )
    run_store(echo, metrics_port)


def run_store(echo: bool, metrics_port_option: str | None) -> None:
    from wac.store.service import StoreService
    from wac.store.settings import StoreSettings
    from wac.targets_topic import targets_topic_settings

    env = load_environment()
    settings = load_settings(env)
    metrics_port = v.WAC_STORE_METRICS_PORT.pick(metrics_port_option, "--metrics-port", env)
    service = StoreService(
        settings.kafka(),
        settings.postgres(),
        StoreSettings.from_env(env),
        on_stored=print_stored if echo else None,
        targets_topic=targets_topic_settings(env),
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
@click.option(
    "--targets",
    is_flag=True,
    help="Print the schema of a target's definition in the targets topic instead.",
)
def schema(targets: bool) -> None:
    """Print the JSON Schema of the v1 result message (or of a target definition)."""
    if targets:
        from wac.targets.definition import definition_json_schema

        click.echo(json.dumps(definition_json_schema(), indent=2, sort_keys=True))
        return
    click.echo(json.dumps(json_schema(), indent=2, sort_keys=True))
