"""`wac monitor` and `wac check`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wac import limits
from wac.commands.common import (
    collect_targets,
    config_option,
    parse_period,
    period_option,
    reports_errors,
)
from wac.commands.output import format_result_table, print_result_line
from wac.config import Settings, load_environment, load_settings
from wac.errors import ConfigError
from wac.monitor.sharding import Shard, parse_shard
from wac.probes.policy import probe_policy
from wac.result import encode
from wac.settings import variables as v
from wac.settings.durations import parse_duration_text
from wac.settings.options import option
from wac.targets import DEFAULT_INTERVAL, Target, target_from_url

MAX_WORKERS = 256
# Without --workers: one process per core (one Python process checks on one core), at most
# AUTO_MAX_WORKERS, and one per AUTO_TARGETS_PER_WORKER targets of the file at least (a
# handful of targets needs no second process).
AUTO_MAX_WORKERS = 8
AUTO_TARGETS_PER_WORKER = 1000
DEFAULT_SUMMARY_INTERVAL_S = 60.0


@click.command()
@click.argument("urls", nargs=-1)
@config_option(
    "YAML targets file (see README); reloaded when it changes or on SIGHUP.",
)
@period_option
@option(v.WAC_MONITOR_NAME, "--location", metavar="NAME")
@click.option(
    "--fleet",
    is_flag=True,
    help="Check the managed targets (the targets topic, see `wac targets`) with the other "
    "fleet monitors of this --location: each location's monitors share the targets.",
)
@option(v.WAC_FLEET_SESSION_TIMEOUT, "--session-timeout", metavar="DURATION")
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
    help=f"Processes to run, each with a share of the targets, 1 to {MAX_WORKERS} or `auto` "
    f"(one per core). Default: one per core, at most {AUTO_MAX_WORKERS} and at most one per "
    f"{AUTO_TARGETS_PER_WORKER:,} targets; with --fleet, 1.",
)
@option(v.WAC_MONITOR_MAX_IN_FLIGHT, "--max-in-flight", metavar="N")
@option(v.WAC_MONITOR_BUFFER, "--buffer", metavar="N")
@click.option(
    "--summary-interval",
    default=None,
    metavar="DURATION",
    help="How often a one-line summary is logged: seconds or a duration such as 30s or 5m. "
    f"Default: {DEFAULT_SUMMARY_INTERVAL_S:g} s.",
)
@option(
    v.WAC_MONITOR_METRICS_PORT,
    "--metrics-port",
    metavar="PORT",
    extra="With --workers N, worker i uses PORT+i.",
)
@click.option("--stats-file", type=click.Path(path_type=Path), default=None, hidden=True)
@click.option("--print-results", is_flag=True, help="Also print each result as a line on stdout.")
@reports_errors
def monitor(
    urls: tuple[str, ...],
    config: Path | None,
    period: str | None,
    location: str | None,
    fleet: bool,
    session_timeout: str | None,
    shard: str | None,
    workers: str | None,
    max_in_flight: str | None,
    buffer: str | None,
    summary_interval: str | None,
    metrics_port: str | None,
    stats_file: Path | None,
    print_results: bool,
) -> None:
    """Check URLs (or a targets file, or with --fleet the managed targets) on a schedule and
    publish results to Kafka."""
    env = load_environment()
    settings = load_settings(env)
    if fleet:
        _check_fleet_arguments(urls, config, period, shard)
    elif session_timeout is not None:
        raise ConfigError("--session-timeout applies to --fleet only: add --fleet or drop it")
    session_s = v.WAC_FLEET_SESSION_TIMEOUT.pick(session_timeout, "--session-timeout", env)
    every = parse_period(period)
    my_shard = parse_shard(shard) if shard is not None else Shard()
    in_flight = v.WAC_MONITOR_MAX_IN_FLIGHT.pick(max_in_flight, "--max-in-flight", env)
    buffer_limit = v.WAC_MONITOR_BUFFER.pick(buffer, "--buffer", env)
    summary_every = (
        DEFAULT_SUMMARY_INTERVAL_S
        if summary_interval is None
        else parse_duration_text(
            summary_interval,
            "--summary-interval",
            lowest=limits.MIN_SETTING_DURATION_S,
            highest=limits.MAX_SETTING_DURATION_S,
        )
    )
    policy = probe_policy(env)
    port = v.WAC_MONITOR_METRICS_PORT.pick(metrics_port, "--metrics-port", env)
    name = v.WAC_MONITOR_NAME.pick(location, "--location", env) or settings.monitor_name

    def load_targets() -> list[Target]:
        if fleet:
            return []  # the fleet's targets come from the targets topic
        return my_shard.select(collect_targets(urls, config, every, settings))

    targets = load_targets()  # a bad targets file is reported before anything starts
    if my_shard.count > 1:  # the other shards' targets were read and dropped
        from wac.monitor.workers import release_memory

        release_memory()
    worker_count = _workers(workers) if workers is not None else _default_workers(targets, fleet)
    postgres_url = _push_postgres(targets, settings)
    kafka = settings.kafka()
    fleet_options = None
    if fleet:
        from wac.monitor.fleet import FleetOptions
        from wac.targets_topic import targets_topic_settings

        fleet_options = FleetOptions(targets_topic_settings(env), name, session_s)
    if kafka.use_ssl:
        from wac.runtime.kafka import check_cert_files

        check_cert_files(kafka)  # before any worker starts, so a bad file is one line
    if worker_count > 1:
        from wac.monitor.workers import release_memory, run_workers

        del targets  # each worker reads its own shard: the supervisor keeps none
        release_memory()
        shards = my_shard.split(worker_count)
        position = {str(s): i for i, s in enumerate(shards)}

        def child_args(child_shard: Shard, child_stats: Path | None) -> list[str]:
            if fleet:  # each worker a member of the location's group
                args = ["--fleet", "--session-timeout", repr(session_s)]
            else:
                args = [*urls, "--shard", str(child_shard)]
            args += ["--workers", "1", "--location", name]
            if port is not None:
                args += ["--metrics-port", str(port + position[str(child_shard)])]
            args += ["--max-in-flight", str(in_flight), "--buffer", str(buffer_limit)]
            args += ["--summary-interval", repr(summary_every)]
            if config is not None:
                args += ["--config", str(config)]
            if every is not None:
                args += ["--period", repr(every)]
            if child_stats is not None:
                args += ["--stats-file", str(child_stats)]
            if print_results:
                args.append("--print-results")
            return args

        sys.exit(run_workers(child_args, shards, stats_file=stats_file))
    from wac.monitor.service import MonitorOptions, run_monitor  # (not in a supervisor)

    run_monitor(
        load_targets,
        kafka,
        MonitorOptions(
            monitor_name=name,
            max_in_flight=in_flight,
            buffer_limit=buffer_limit,
            policy=policy,
            summary_interval=summary_every,
            watch=config,
            stats_file=stats_file,
            metrics_port=port,
            postgres_url=postgres_url,
        ),
        on_result=print_result_line if print_results else None,
        initial_targets=targets,
        fleet=fleet_options,
    )


def _check_fleet_arguments(
    urls: tuple[str, ...], config: Path | None, period: str | None, shard: str | None
) -> None:
    """--fleet takes its targets from the targets topic: nothing else may give targets."""
    given = [
        what
        for what, present in (
            ("URLs", bool(urls)),
            ("--config", config is not None),
            ("--period", period is not None),
            ("--shard", shard is not None),
        )
        if present
    ]
    if given:
        raise ConfigError(
            f"--fleet checks the managed targets of the targets topic, so {' and '.join(given)} "
            "cannot go with it: drop them (add targets with `wac targets apply FILE`), or "
            "drop --fleet to check them with this monitor alone"
        )


def _push_postgres(targets: list[Target], settings: Settings) -> str | None:
    """PostgreSQL's URL when there are push:// targets (their pings are read there)."""
    if not any(t.scheme == "push" for t in targets):
        return settings.postgres_endpoint or None
    try:
        return settings.postgres()
    except ConfigError as exc:
        raise ConfigError(
            f"push:// targets need PostgreSQL, where wac web notes their pings: {exc}"
        ) from None


def _default_workers(targets: list[Target], fleet: bool) -> int:
    import os

    if fleet:
        return 1  # a fleet member is one process (start more members for more cores)
    cores = min(os.cpu_count() or 1, AUTO_MAX_WORKERS)
    return max(1, min(cores, len(targets) // AUTO_TARGETS_PER_WORKER))


def _workers(raw: str) -> int:
    import os

    if raw.strip().lower() == "auto":
        return os.cpu_count() or 1
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"--workers {raw!r} is not a whole number (or `auto`)") from None
    if not 1 <= value <= MAX_WORKERS:
        raise ConfigError(f"--workers {raw!r} must be between 1 and {MAX_WORKERS}")
    return value


@click.command()
@click.argument("url")
@click.option("--pattern", default=None, help="Regex (RE2 syntax) that must be found in the body.")
@option(v.CHECK_TIMEOUT, "--timeout", metavar="DURATION")
@click.option("--no-verify-tls", is_flag=True, help="Do not verify the server's certificate.")
@click.option("--json", "as_json", is_flag=True, help="Print the v1 JSON message.")
@reports_errors
def check(
    url: str, pattern: str | None, timeout: str | None, no_verify_tls: bool, as_json: bool
) -> None:
    """Check one URL once and print the result (no Kafka needed); exit 0 when up."""
    from dataclasses import replace

    from wac.probes.once import run_checks

    env = load_environment()
    settings: Settings = load_settings(env)
    seconds = v.CHECK_TIMEOUT.pick(timeout, "--timeout", env)
    if url.lower().startswith("push:"):
        raise ConfigError(
            f"{url}: a push:// target is not probed, it is pinged: the job it watches calls "
            "wac web at /api/push/<token> (GET or POST) once per interval, and the monitor "
            "publishes a heartbeat failure for each period without a ping; to try a ping: "
            "curl http://127.0.0.1:8080/api/push/<token>"
        )
    target = target_from_url(url, interval=DEFAULT_INTERVAL, timeout=seconds, pattern=pattern)
    if no_verify_tls:
        target = replace(target, verify_tls=False)
    (result,) = run_checks([target], settings.monitor_name, policy=probe_policy(env))
    if as_json:
        click.echo(encode(result).decode())
    else:
        click.echo(format_result_table(result))
    sys.exit(0 if result.ok else 1)
