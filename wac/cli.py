"""The `wac` command line."""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from wac.config import Settings, load_environment, load_settings
from wac.errors import ConfigError, WacError
from wac.result import CheckResult, encode, json_schema
from wac.targets import Target, load_targets_file, target_from_url

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("wac")


def setup_logging() -> None:
    level = os.environ.get("WAC_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a WacError into one line on stderr and its exit code, never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except WacError as exc:
            click.echo(f"wac: error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wac")
def cli() -> None:
    """wac: website availability checker.

    Monitors probe websites and publish results to Kafka; stores write them to
    PostgreSQL exactly once. Settings come from the environment or a .env file.
    """
    setup_logging()


def collect_targets(
    urls: Sequence[str], config: Path | None, period: float | None, settings: Settings
) -> list[Target]:
    interval = period if period is not None else 10.0
    targets: list[Target] = []
    if config is not None:
        targets.extend(load_targets_file(config, default_timeout=settings.check_timeout))
    targets.extend(
        target_from_url(url, interval=interval, timeout=settings.check_timeout) for url in urls
    )
    if not targets:
        raise ConfigError("nothing to check: give one or more URLs or --config targets.yaml")
    ids = [t.id for t in targets]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"the same target is given twice: {', '.join(duplicates)}")
    return targets


def validate_period(ctx: click.Context, param: click.Parameter, value: float | None) -> Any:
    if value is not None and value <= 0:
        raise click.BadParameter("must be a positive number of seconds")
    return value


@cli.command()
@click.argument("urls", nargs=-1)
@click.option(
    "--config",
    "-c",
    type=click.Path(path_type=Path),
    help="YAML targets file (see README).",
)
@click.option(
    "--period",
    type=float,
    default=None,
    callback=validate_period,
    help="Seconds between checks of each URL given on the command line (default 10).",
)
@click.option("--location", default=None, help="Name written in each result's `monitor` field.")
@click.option("--print-results", is_flag=True, help="Also print each result as a line on stdout.")
@reports_errors
def monitor(
    urls: tuple[str, ...],
    config: Path | None,
    period: float | None,
    location: str | None,
    print_results: bool,
) -> None:
    """Check URLs (or a targets file) on a schedule and publish results to Kafka."""
    from wac.monitor_service import run_monitor

    settings = load_settings()
    targets = collect_targets(urls, config, period, settings)
    kafka = settings.kafka()
    run_monitor(
        targets,
        kafka,
        monitor_name=location or settings.monitor_name,
        on_result=print_result_line if print_results else None,
    )


@cli.command()
@click.option("--echo", is_flag=True, help="Print each result once it is in PostgreSQL.")
@reports_errors
def store(echo: bool) -> None:
    """Consume results from Kafka and store them in PostgreSQL, exactly once."""
    from wac.store.service import StoreService

    settings = load_settings()
    service = StoreService(
        settings.kafka(),
        settings.postgres(),
        on_stored=print_stored if echo else None,
    )
    service.install_signal_handlers()
    service.run()


@cli.command()
@reports_errors
def migrate() -> None:
    """Apply the database migrations (the store also does it at start)."""
    from wac.store.migrate import migrate as apply
    from wac.store.service import connect_database

    settings = load_settings()
    with connect_database(settings.postgres()) as conn:
        applied = apply(conn)
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@cli.command()
@click.argument("url")
@click.option("--pattern", default=None, help="Regex that must be found in the body.")
@click.option("--timeout", type=float, default=None, help="Seconds (default CHECK_TIMEOUT).")
@click.option("--json", "as_json", is_flag=True, help="Print the v1 JSON message.")
@reports_errors
def check(url: str, pattern: str | None, timeout: float | None, as_json: bool) -> None:
    """Check one URL once and print the result (no Kafka needed)."""
    from wac.probes.http import probe_blocking

    settings = load_settings()
    target = target_from_url(
        url, interval=10.0, timeout=timeout or settings.check_timeout, pattern=pattern
    )
    result = probe_blocking(target, settings.monitor_name)
    if as_json:
        click.echo(encode(result).decode())
    else:
        click.echo(format_result_table(result))
    sys.exit(0 if result.ok else 1)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the v1 result message."""
    click.echo(json.dumps(json_schema(), indent=2, sort_keys=True))


def format_result_table(result: CheckResult) -> str:
    p = result.phases

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} ms"

    rows = [
        ("url", result.url),
        ("ok", "yes" if result.ok else "NO"),
        ("status", str(result.status_code) if result.status_code is not None else "-"),
        ("response time", ms(result.response_time_ms)),
        ("  resolve", ms(p.resolve)),
        ("  connect", ms(p.connect)),
        ("  tls", ms(p.tls)),
        ("  processing", ms(p.processing)),
        ("  transfer", ms(p.transfer)),
    ]
    if result.pattern is not None:
        rows.append(("pattern", f"{result.pattern!r} matched: {result.pattern_matched}"))
    if result.tls_expires_at is not None:
        rows.append(("certificate expires", result.tls_expires_at.isoformat()))
    if result.final_url is not None:
        rows.append(("final url", result.final_url))
    if result.error is not None:
        rows.append(("error", f"{result.error.kind}: {result.error.message}"))
    rows.append(("checked at", result.checked_at.isoformat()))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def print_result_line(result: CheckResult, verb: str = "checked") -> None:
    status = result.status_code if result.status_code is not None else "---"
    took = f"{result.response_time_ms:.1f}ms" if result.response_time_ms is not None else "-"
    state = "UP  " if result.ok else "DOWN"
    reason = f" {result.error.kind}: {result.error.message}" if result.error else ""
    click.echo(
        f"{result.checked_at:%H:%M:%S} {verb} {state} {status} {took:>9} {result.target}{reason}",
        nl=True,
    )
    sys.stdout.flush()


def print_stored(results: list[CheckResult]) -> None:
    for result in results:
        print_result_line(result, "stored")


@cli.group()
def services() -> None:
    """Local Kafka and PostgreSQL for development, tests and `wac up`."""


@services.command("up")
@reports_errors
def services_up() -> None:
    """Start local Kafka and PostgreSQL (idempotent); returns when both are ready."""
    from wac.services import LocalServices

    started = time.monotonic()
    local = LocalServices()
    local.up()
    click.echo(f"local services ready in {time.monotonic() - started:.1f} s")
    for status in local.status():
        click.echo(f"  {status.name}: {status.endpoint} (log {status.log_path})")
    click.echo('point commands at them with: eval "$(wac services env)"')


@services.command("down")
@reports_errors
def services_down() -> None:
    """Stop local Kafka and PostgreSQL."""
    from wac.services import LocalServices

    LocalServices().down()
    click.echo("local services stopped")


@services.command("status")
@reports_errors
def services_status() -> None:
    """Say what runs where."""
    from wac.services import LocalServices

    for status in LocalServices().status():
        state = f"running (pid {status.pid})" if status.running else "stopped"
        click.echo(f"{status.name}: {state} at {status.endpoint}, log {status.log_path}")


@services.command("env")
@reports_errors
def services_env() -> None:
    """Print `export NAME=value` lines pointing any command at the local services."""
    from wac.services import LocalServices

    for name, value in LocalServices().env().items():
        click.echo(f"export {name}={shlex.quote(value)}")


@cli.command()
@click.argument("urls", nargs=-1)
@click.option("--config", "-c", type=click.Path(path_type=Path), help="YAML targets file.")
@click.option("--period", type=float, default=None, callback=validate_period)
@reports_errors
def up(urls: tuple[str, ...], config: Path | None, period: float | None) -> None:
    """Run monitor and store together (starting local services unless endpoints are set)."""
    environment = load_environment()
    settings = load_settings(environment)
    collect_targets(urls, config, period, settings)  # fail early on bad targets
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
    sys.exit(run_together(commands, child_env))


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


def main() -> None:
    cli(prog_name="wac")


if __name__ == "__main__":
    main()
