"""`wac web`: the dashboard, its JSON API and /metrics."""

from __future__ import annotations

import logging

import click

from wac.commands.common import reports_errors
from wac.config import load_environment, load_settings, parse_positive_int
from wac.errors import ConfigError

log = logging.getLogger(__name__)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=None, help="Port (default WAC_WEB_PORT or 8080).")
@click.option(
    "--no-rollup", is_flag=True, help="Do not run the rollup job here (run `wac rollup`)."
)
@reports_errors
def web(host: str, port: int | None, no_rollup: bool) -> None:
    """Serve the dashboard: status, uptime, response times, incidents, JSON API."""
    from aiohttp import web as aioweb

    from wac.web.app import WebConfig, create_app, prepare_database

    env = load_environment()
    settings = load_settings(env)
    url = settings.postgres()
    port = port or parse_positive_int(env.get("WAC_WEB_PORT"), "WAC_WEB_PORT", 8080)
    token = env.get("WAC_WEB_TOKEN") or None
    prepare_database(url)
    app = create_app(WebConfig(url, token=token, run_rollups=not no_rollup))
    auth = "token required" if token else "no auth (set WAC_WEB_TOKEN to require one)"
    log.info("dashboard on http://%s:%d/ (%s)", host, port, auth)
    try:
        aioweb.run_app(app, host=host, port=port, print=None, access_log=None)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}; set WAC_WEB_PORT (or --port) "
            "to a free port"
        ) from None
