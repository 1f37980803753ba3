"""`wac up`: every service together, on local or configured endpoints."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click

from wac.commands.common import collect_targets, reports_errors, validate_period
from wac.config import load_environment, load_settings


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
    with_alerts = False
    if config is not None:
        from wac.alerts.config import has_alerts_section, load_alert_config

        with_alerts = has_alerts_section(config)
        if with_alerts:
            load_alert_config(config, environment)  # and on a bad alerts section
    child_env = dict(environment)
    if not (settings.kafka_endpoint and settings.postgres_endpoint):
        from wac.services import LocalServices

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
    web_port = child_env.get("WAC_WEB_PORT") or "8080"
    if not web_port.isdigit() or port_free("127.0.0.1", int(web_port)):
        commands["web"] = [sys.executable, "-m", "wac", "web"]
        click.echo(f"dashboard: http://127.0.0.1:{web_port}/")
    else:
        click.echo(f"dashboard not started: port {web_port} is in use (set WAC_WEB_PORT)", err=True)
    if with_alerts:
        commands["alert"] = [sys.executable, "-m", "wac", "alert", "--config", str(config)]
    sys.exit(run_together(commands, child_env))


def port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def run_together(commands: dict[str, list[str]], env: dict[str, str]) -> int:
    """Run the services side by side; stop all on Ctrl-C, SIGTERM or one's exit."""
    children = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
    stopping = False

    def forward(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    exit_code = 0
    while any(child.poll() is None for child in children.values()):
        for name, child in children.items():
            code = child.poll()
            if code is not None and not stopping:
                click.echo(f"wac up: {name} exited with code {code}; stopping the others", err=True)
                exit_code = code or 1
                forward(signal.SIGTERM, None)
        time.sleep(0.2)
    return exit_code
