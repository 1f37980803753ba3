"""`wac monitor` and `wac check`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wac.commands.common import collect_targets, reports_errors, validate_period
from wac.commands.output import format_result_table, print_result_line
from wac.config import load_settings
from wac.result import encode
from wac.targets import target_from_url


@click.command()
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


@click.command()
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
