"""`wac alert`: incidents, events and notifications from the results topic."""

from __future__ import annotations

from pathlib import Path

import click

from wac.commands.common import config_option, reports_errors
from wac.config import load_environment, load_settings
from wac.settings import variables as v
from wac.settings.options import option


@click.command()
@config_option(
    "Targets file whose `alerts:` section configures rules and notifiers (see README).",
)
@option(v.WAC_ALERT_INSTANCE, "--instance", metavar="ID")
@option(v.WAC_ALERT_METRICS_PORT, "--metrics-port", metavar="PORT")
@click.option("--check-config", is_flag=True, help="Only read and check the configuration.")
@reports_errors
def alert(
    config: Path | None, instance: str | None, metrics_port: str | None, check_config: bool
) -> None:
    """Turn results into incidents, events and notifications (its own consumer group)."""
    from wac.alerts.config import load_alert_config

    environment = load_environment()
    port = v.WAC_ALERT_METRICS_PORT.pick(metrics_port, "--metrics-port", environment)
    instance_id = v.WAC_ALERT_INSTANCE.pick(instance, "--instance", environment)
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
    from wac.alerts.service import AlertService, AlertSettings

    service = AlertService(
        AlertSettings(
            kafka=kafka,
            postgres_url=postgres,
            group_id=v.KAFKA_ALERT_GROUP_ID.read(environment) or f"{kafka.group_id}-alert",
            events_topic=v.KAFKA_EVENTS_TOPIC.read(environment) or f"{kafka.topic}-events",
            instance_id=instance_id,
            max_message_bytes=v.WAC_STORE_MAX_MESSAGE_BYTES.read(environment),
        ),
        alert_config,
    )
    if port is not None:
        from prometheus_client import start_http_server

        start_http_server(port, addr="127.0.0.1")
    from wac.runtime.signals import Signals

    with Signals(service.stop):
        service.run()
