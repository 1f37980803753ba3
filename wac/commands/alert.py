"""`wac alert`: incidents, events and notifications from the results topic."""

from __future__ import annotations

from pathlib import Path

import click

from wac.commands.common import reports_errors
from wac.config import load_environment, load_settings
from wac.errors import ConfigError


@click.command()
@click.option(
    "--config",
    "-c",
    type=click.Path(path_type=Path),
    help="Targets file whose `alerts:` section configures rules and notifiers (see README).",
)
@click.option(
    "--instance",
    default=None,
    help="Static consumer-group member id (or WAC_ALERT_INSTANCE): a restarted process "
    "takes its partitions back at once instead of after the session timeout.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (or WAC_ALERT_METRICS_PORT).",
)
@click.option("--check-config", is_flag=True, help="Only read and check the configuration.")
@reports_errors
def alert(
    config: Path | None, instance: str | None, metrics_port: int | None, check_config: bool
) -> None:
    """Turn results into incidents, events and notifications (its own consumer group)."""
    from wac.alerts.config import load_alert_config

    environment = load_environment()
    alert_config = load_alert_config(config, environment)
    if check_config:
        names = ", ".join(
            f"{n} ({x.describe()})" for n, x in sorted(alert_config.notifiers.items())
        )
        click.echo(f"configuration OK; notifiers: {names or 'none'}")
        return
    settings = load_settings(environment)
    kafka = settings.kafka()
    postgres = settings.postgres()
    port_text = environment.get("WAC_ALERT_METRICS_PORT", "")
    if metrics_port is None and port_text.strip():
        if not port_text.strip().isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"WAC_ALERT_METRICS_PORT={port_text!r} is not a TCP port number")
        metrics_port = int(port_text)
    from wac.alerts.service import AlertService, AlertSettings
    from wac.store.settings import StoreSettings

    service = AlertService(
        AlertSettings(
            kafka=kafka,
            postgres_url=postgres,
            group_id=environment.get("KAFKA_ALERT_GROUP_ID") or f"{kafka.group_id}-alert",
            events_topic=environment.get("KAFKA_EVENTS_TOPIC") or f"{kafka.topic}-events",
            instance_id=instance or environment.get("WAC_ALERT_INSTANCE") or None,
            max_message_bytes=StoreSettings.from_env(environment).max_message_bytes,
        ),
        alert_config,
    )
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1")
    from wac.runtime.signals import Signals

    with Signals(service.stop):
        service.run()
