"""`wac web`: the dashboard, its JSON API and /metrics."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from wac.commands.common import config_option, reports_errors
from wac.config import Settings, load_environment, load_settings
from wac.errors import ConfigError
from wac.settings import variables as v
from wac.settings.options import option
from wac.targets_topic import TargetsTopicSettings
from wac.web.served_file import ServedFile, read_served_file

if TYPE_CHECKING:
    from wac.web.push import PushReceiver

DEFAULT_HOST = "127.0.0.1"

log = logging.getLogger(__name__)


def web_port(env: Mapping[str, str], option: str | None = None) -> int:
    """--port, else WAC_WEB_PORT, else 8080; ConfigError unless 1 to 65535."""
    return v.WAC_WEB_PORT.pick(option, "--port", env)


def web_token(env: Mapping[str, str]) -> str | None:
    """WAC_WEB_TOKEN, or None when it is not set at all (no auth); set but blank, padded
    or not printable is refused (wac.settings.values.secret_token)."""
    return v.WAC_WEB_TOKEN.read(env)


def web_admin_token(env: Mapping[str, str]) -> str | None:
    """WAC_WEB_ADMIN_TOKEN: writes notices through the API (bearer only); None: no writes.
    It must differ from WAC_WEB_TOKEN, or every reader could write."""
    admin = v.WAC_WEB_ADMIN_TOKEN.read(env)
    if admin is not None and admin == env.get("WAC_WEB_TOKEN"):
        raise ConfigError(
            "WAC_WEB_ADMIN_TOKEN is the same as WAC_WEB_TOKEN: give the admin token a "
            "secret of its own, or every reader could write notices"
        )
    return admin


def _push_receiver(
    served: ServedFile | None, settings: Settings, url: str, env: Mapping[str, str]
) -> PushReceiver | None:
    """The pings of push:// targets: the targets file's and the managed ones (None
    without KAFKA_ENDPOINT, where their results go, unless the file has some)."""
    from wac.web.push import PushReceiver

    pushed = served.pushed if served is not None else ()
    if not pushed and not v.KAFKA_ENDPOINT.read(env):
        return None
    return PushReceiver(pushed, url, settings.kafka(), settings.monitor_name, env=env)


@click.command()
@click.option(
    "--host",
    default=DEFAULT_HOST,
    metavar="ADDRESS",
    show_default=True,
    help="Address to listen on: 127.0.0.1 serves this machine only; 0.0.0.0 (or ::) every "
    "address, for a dashboard other machines reach (set WAC_WEB_TOKEN then).",
)
@option(v.WAC_WEB_PORT, "--port", metavar="PORT")
@click.option(
    "--no-rollup", is_flag=True, help="Do not run the rollup job here (run `wac rollup`)."
)
@config_option(
    "Targets file whose `status_pages:` section defines the public status pages.",
)
@reports_errors
def web(host: str, port: str | None, no_rollup: bool, config: Path | None) -> None:
    """Serve the dashboard: status, uptime, response times, incidents, JSON API; and
    the public status pages and badges of the targets file (--config)."""
    from aiohttp import web as aioweb

    from wac.web.app import WebConfig, create_app, prepare_database, quiet_protocol_errors

    env = load_environment()
    listen_port = web_port(env, port)
    token = web_token(env)
    admin_token = web_admin_token(env)
    settings = load_settings(env)
    reread = (
        partial(read_served_file, config, settings.check_timeout) if config is not None else None
    )
    served = reread() if reread is not None else None
    pages = served.pages if served is not None else ()
    url = settings.postgres()
    push = _push_receiver(served, settings, url, env)
    prepare_database(url)
    app = create_app(
        WebConfig(
            url,
            token=token,
            run_rollups=not no_rollup,
            pages=pages,
            admin_token=admin_token,
            targets_topic=_targets_topic(env),
            push=push,
            reread_file=reread,
            file_source=str(config),
        )
    )
    quiet_protocol_errors()
    auth = "token required" if token else "no auth (set WAC_WEB_TOKEN to require one)"
    log.info("dashboard on http://%s:%d/ (%s)", host, listen_port, auth)
    if push is not None:
        log.info(
            "heartbeat pings of %d push target(s) of the file and the managed ones on "
            "/api/push/<token>",
            push.targets,
        )
    for page in pages:
        log.info("status page (public) on http://%s:%d/status/%s", host, listen_port, page.slug)
    try:
        aioweb.run_app(app, host=host, port=listen_port, print=None, access_log=None)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{listen_port}: {exc.strerror}; set WAC_WEB_PORT "
            "(or --port) to a free port"
        ) from None


def _targets_topic(env: Mapping[str, str]) -> TargetsTopicSettings | None:
    """Where the targets API writes; None (writes answer 503) without KAFKA_ENDPOINT."""
    from wac.targets_topic import targets_topic_settings

    if not v.KAFKA_ENDPOINT.read(env):
        return None
    return targets_topic_settings(env)
