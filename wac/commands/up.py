"""`wac up`: every service together, on local or configured endpoints."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wac.commands import web as commands_web
from wac.commands.common import collect_targets, reports_errors, validate_period
from wac.config import load_environment, load_settings
from wac.localservices.proc import port_free
from wac.runtime.supervisor import Child, Supervisor


@click.command()
@click.argument("urls", nargs=-1)
@click.option("--config", "-c", type=click.Path(path_type=Path), help="YAML targets file.")
@click.option("--period", type=float, default=None, callback=validate_period)
@reports_errors
def up(urls: tuple[str, ...], config: Path | None, period: float | None) -> None:
    """Run monitor and store together (starting local services unless endpoints are set)."""
    environment = load_environment()
    settings = load_settings(environment)
    collect_targets(urls, config, period, settings)  # fail early on bad targets
    web_port = commands_web.web_port(environment)  # and on bad dashboard settings
    commands_web.web_token(environment)
    commands_web.web_admin_token(environment)
    if config is not None:
        from wac.pages.config import load_status_pages

        load_status_pages(config)  # and on a bad status_pages section
    with_alerts = False
    if config is not None:
        from wac.alerts.config import has_alerts_section, load_alert_config

        with_alerts = has_alerts_section(config)
        if with_alerts:
            load_alert_config(config, environment)  # and on a bad alerts section
    if settings.kafka_endpoint and settings.kafka_use_ssl:
        from wac.runtime.kafka import check_cert_files

        check_cert_files(settings.kafka())  # one line here, not one per service
    child_env = dict(environment)
    if not (settings.kafka_endpoint and settings.postgres_endpoint):
        from wac.localservices import LocalServices

        click.echo("KAFKA_ENDPOINT/POSTGRES_ENDPOINT not set: starting local services...")
        local = LocalServices()
        local.up()
        child_env.update(local.env())
    monitor_args = [*urls]
    if config is not None:
        monitor_args += ["--config", str(config)]
    if period is not None:
        monitor_args += ["--period", str(period)]
    commands = {
        "store": [sys.executable, "-m", "wac", "store", "--echo"],
        "monitor": [sys.executable, "-m", "wac", "monitor", *monitor_args],
    }
    if port_free("127.0.0.1", web_port):
        commands["web"] = [sys.executable, "-m", "wac", "web"]
        if config is not None:
            commands["web"] += ["--config", str(config)]
        click.echo(f"dashboard: http://127.0.0.1:{web_port}/")
    else:
        click.echo(f"dashboard not started: port {web_port} is in use (set WAC_WEB_PORT)", err=True)
    if with_alerts:
        commands["alert"] = [sys.executable, "-m", "wac", "alert", "--config", str(config)]
    sys.exit(run_together(commands, child_env))


def run_together(commands: dict[str, list[str]], env: dict[str, str]) -> int:
    """Run the services side by side; stop all on Ctrl-C, SIGTERM, a hang-up or one's exit.

    The monitor stops first (it flushes what it produced to Kafka), then, a moment later,
    the consumers, so the last results are stored and printed rather than left in Kafka.
    """
    children = [Child(name, argv, stops_first=name == "monitor") for name, argv in commands.items()]
    return Supervisor(children, label="wac up", env=env, hangup_stops=True).run()
