"""`wac up`: every service together, on local or configured endpoints."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wac.commands import web as commands_web
from wac.commands.common import (
    collect_targets,
    config_option,
    parse_period,
    period_option,
    read_config,
    reports_errors,
)
from wac.config import load_environment, load_settings
from wac.localservices.proc import port_free
from wac.runtime.supervisor import Child, Supervisor


@click.command()
@click.argument("urls", nargs=-1)
@config_option(
    "YAML targets file (see README); its alerts: section starts wac alert, its "
    "status_pages: section the public pages of the dashboard.",
)
@period_option
@reports_errors
def up(urls: tuple[str, ...], config: Path | None, period: str | None) -> None:
    """Run monitor, store and dashboard together (and wac alert for a targets file with
    alerts): on your Kafka and PostgreSQL when KAFKA_ENDPOINT and POSTGRES_ENDPOINT are
    set, else on the local services, started first."""
    environment = load_environment()
    settings = load_settings(environment)
    every = parse_period(period)
    own_services = settings.endpoints_given()  # one of the two alone is a mistake
    targets_file = read_config(config, settings)  # the file read once, every section checked
    collect_targets(urls, targets_file, every, settings)  # fail early on bad targets
    web_port = commands_web.web_port(environment)  # and on bad dashboard settings
    commands_web.web_token(environment)
    commands_web.web_admin_token(environment)
    with_alerts = False
    if targets_file is not None:
        from wac.alerts.config import alert_config_of
        from wac.pages.config import pages_of

        pages_of(targets_file)  # a bad status_pages section
        with_alerts = targets_file.alerts is not None
        if with_alerts:
            alert_config_of(targets_file, environment)  # a bad alerts section
    if own_services and settings.kafka_use_ssl:
        from wac.runtime.kafka import check_cert_files

        check_cert_files(settings.kafka())  # one line here, not one per service
    child_env = dict(environment)  # .env included: the children need not find it
    if not own_services:
        from wac.localservices import LocalServices

        click.echo("KAFKA_ENDPOINT/POSTGRES_ENDPOINT not set: starting local services...")
        local = LocalServices(env=environment)
        local.up()
        child_env.update(local.env())
    monitor_args = [*urls]
    if config is not None:
        monitor_args += ["--config", str(config)]
    if every is not None:
        monitor_args += ["--period", repr(every)]
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
