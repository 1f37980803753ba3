"""`wac monitor` and `wac check`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wac import limits
from wac.commands.common import collect_targets, reports_errors, validate_period
from wac.commands.output import format_result_table, print_result_line
from wac.config import Settings, load_environment, load_settings, parse_positive_int
from wac.errors import ConfigError
from wac.monitor.sharding import Shard, parse_shard
from wac.probes.policy import probe_policy
from wac.result import encode
from wac.targets import Target, target_from_url

DEFAULT_WORKERS = 1


@click.command()
@click.argument("urls", nargs=-1)
@click.option(
    "--config",
    "-c",
    type=click.Path(path_type=Path),
    help="YAML targets file (see README); reloaded when it changes or on SIGHUP.",
)
@click.option(
    "--period",
    type=float,
    default=None,
    callback=validate_period,
    help="Seconds between checks of each URL given on the command line (default 10).",
)
@click.option(
    "--location",
    default=None,
    metavar="NAME",
    help="Name written in each result's `monitor` field.",
)
@click.option(
    "--shard",
    default=None,
    metavar="I/N",
    help="Check only shard i of n of the targets: i/n, 0-based.",
)
@click.option(
    "--workers",
    default=None,
    metavar="N",
    help="Processes to run, each with a share of the targets (default 1; `auto`: one per core).",
)
@click.option(
    "--max-in-flight",
    default=None,
    metavar="N",
    help="Checks running at once, per process (default 1000; WAC_MONITOR_MAX_IN_FLIGHT).",
)
@click.option(
    "--buffer",
    default=None,
    metavar="N",
    help="Results held while Kafka is away, per process (default 100000; WAC_MONITOR_BUFFER).",
)
@click.option(
    "--summary-interval",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds between the one-line summaries in the log.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    metavar="PORT",
    help="Serve Prometheus metrics on 127.0.0.1:PORT/metrics (default WAC_MONITOR_METRICS_PORT); "
    "with --workers N, worker i uses PORT+i.",
)
@click.option("--stats-file", type=click.Path(path_type=Path), default=None, hidden=True)
@click.option("--print-results", is_flag=True, help="Also print each result as a line on stdout.")
@reports_errors
def monitor(
    urls: tuple[str, ...],
    config: Path | None,
    period: float | None,
    location: str | None,
    shard: str | None,
    workers: str | None,
    max_in_flight: str | None,
    buffer: str | None,
    summary_interval: float,
    metrics_port: int | None,
    stats_file: Path | None,
    print_results: bool,
) -> None:
    """Check URLs (or a targets file) on a schedule and publish results to Kafka."""
    from wac.monitor.service import MonitorOptions, run_monitor

    env = load_environment()
    settings = load_settings(env)
    my_shard = parse_shard(shard) if shard is not None else Shard()
    worker_count = _workers(workers)
    in_flight = _positive(max_in_flight, "--max-in-flight", env, "WAC_MONITOR_MAX_IN_FLIGHT", 1000)
    buffer_limit = _positive(buffer, "--buffer", env, "WAC_MONITOR_BUFFER", 100_000)
    if summary_interval <= 0:
        raise ConfigError("--summary-interval must be a positive number of seconds")
    policy = probe_policy(env)
    if metrics_port is None and env.get("WAC_MONITOR_METRICS_PORT", "").strip():
        metrics_port = _positive(None, "--metrics-port", env, "WAC_MONITOR_METRICS_PORT", 0)
    name = location or settings.monitor_name
    if not name.strip():
        raise ConfigError("--location must not be empty")

    def load_targets() -> list[Target]:
        return my_shard.select(collect_targets(urls, config, period, settings))

    targets = load_targets()  # a bad targets file is reported before anything starts
    kafka = settings.kafka()
    if kafka.use_ssl:
        from wac.runtime.kafka import check_cert_files

        check_cert_files(kafka)  # before any worker starts, so a bad file is one line
    if worker_count > 1:
        from wac.monitor.workers import run_workers

        shards = my_shard.split(worker_count)
        position = {str(s): i for i, s in enumerate(shards)}

        def child_args(child_shard: Shard, child_stats: Path | None) -> list[str]:
            args = [*urls, "--shard", str(child_shard), "--workers", "1", "--location", name]
            if metrics_port is not None:
                args += ["--metrics-port", str(metrics_port + position[str(child_shard)])]
            args += ["--max-in-flight", str(in_flight), "--buffer", str(buffer_limit)]
            args += ["--summary-interval", str(summary_interval)]
            if config is not None:
                args += ["--config", str(config)]
            if period is not None:
                args += ["--period", str(period)]
            if child_stats is not None:
                args += ["--stats-file", str(child_stats)]
            if print_results:
                args.append("--print-results")
            return args

        sys.exit(run_workers(child_args, shards, stats_file=stats_file))
    run_monitor(
        load_targets,
        kafka,
        MonitorOptions(
            monitor_name=name,
            max_in_flight=in_flight,
            buffer_limit=buffer_limit,
            policy=policy,
            summary_interval=summary_interval,
            watch=config,
            stats_file=stats_file,
            metrics_port=metrics_port,
        ),
        on_result=print_result_line if print_results else None,
        initial_targets=targets,
    )


def _workers(raw: str | None) -> int:
    import os

    if raw is None:
        return DEFAULT_WORKERS
    if raw.strip().lower() == "auto":
        return os.cpu_count() or 1
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"--workers {raw!r} is not a whole number (or `auto`)") from None
    if not 1 <= value <= 256:
        raise ConfigError(f"--workers {raw!r} must be between 1 and 256")
    return value


def _positive(
    raw: str | None, option: str, env: dict[str, str], variable: str, default: int
) -> int:
    if raw is None:
        return parse_positive_int(env.get(variable), variable, default)
    return parse_positive_int(raw, option, default)


@click.command()
@click.argument("url")
@click.option("--pattern", default=None, help="Regex (RE2 syntax) that must be found in the body.")
@click.option("--timeout", type=float, default=None, help="Seconds (default CHECK_TIMEOUT).")
@click.option("--no-verify-tls", is_flag=True, help="Do not verify the server's certificate.")
@click.option("--json", "as_json", is_flag=True, help="Print the v1 JSON message.")
@reports_errors
def check(
    url: str, pattern: str | None, timeout: float | None, no_verify_tls: bool, as_json: bool
) -> None:
    """Check one URL once and print the result (no Kafka needed); exit 0 when up."""
    from dataclasses import replace

    from wac.probes.once import run_checks

    env = load_environment()
    settings: Settings = load_settings(env)
    if timeout is not None and not limits.MIN_TIMEOUT_S <= timeout <= limits.MAX_TIMEOUT_S:
        raise ConfigError(
            f"--timeout must be between {limits.MIN_TIMEOUT_S} and {limits.MAX_TIMEOUT_S:g} "
            f"seconds, got {timeout:g}"
        )
    target = target_from_url(
        url, interval=10.0, timeout=timeout or settings.check_timeout, pattern=pattern
    )
    if no_verify_tls:
        target = replace(target, verify_tls=False)
    (result,) = run_checks([target], settings.monitor_name, policy=probe_policy(env))
    if as_json:
        click.echo(encode(result).decode())
    else:
        click.echo(format_result_table(result))
    sys.exit(0 if result.ok else 1)
