"""Helpers shared by the subcommands: error reporting, target collection, `--config`,
`--period`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from wac import limits
from wac.config import Settings
from wac.errors import ConfigError, WacError
from wac.settings.durations import describe, parse_duration_text
from wac.targets import DEFAULT_INTERVAL, Target, TargetsFile, read_targets_file, target_from_url

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


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


def config_option(help: str) -> Callable[[F], F]:
    """`--config`/`-c`: the targets file, and what this command reads from it (`help`)."""
    return click.option("--config", "-c", type=click.Path(path_type=Path), help=help)


def period_option(func: F) -> F:
    """`--period`: how often the URLs of the command line are checked."""
    return click.option(
        "--period",
        default=None,
        metavar="DURATION",
        help="How often each URL given on the command line is checked: seconds or a "
        f"duration such as 500ms, 30s or 5m, from {describe(limits.MIN_INTERVAL_S)} to "
        f"{describe(limits.MAX_INTERVAL_S)}. Default: {DEFAULT_INTERVAL:g} s (a targets "
        "file sets its own intervals).",
    )(func)


def parse_period(raw: str | None) -> float | None:
    if raw is None:
        return None
    return parse_duration_text(
        raw, "--period", lowest=limits.MIN_INTERVAL_S, highest=limits.MAX_INTERVAL_S
    )


def read_config(config: Path | None, settings: Settings) -> TargetsFile | None:
    """The targets file of `--config`, read once (None without one)."""
    if config is None:
        return None
    return read_targets_file(config, default_timeout=settings.check_timeout)


def collect_targets(
    urls: Sequence[str],
    config: Path | TargetsFile | None,
    period: float | None,
    settings: Settings,
) -> list[Target]:
    """The targets of the command line: the URLs and the targets file's."""
    targets_file = read_config(config, settings) if isinstance(config, Path) else config
    interval = period if period is not None else DEFAULT_INTERVAL
    targets: list[Target] = []
    if targets_file is not None:
        targets.extend(targets_file.targets)
    targets.extend(
        target_from_url(url, interval=interval, timeout=settings.check_timeout) for url in urls
    )
    if not targets:
        raise ConfigError("nothing to check: give one or more URLs or --config targets.yaml")
    seen: set[str] = set()
    duplicates: set[str] = set()
    for target in targets:
        (duplicates if target.id in seen else seen).add(target.id)
    if duplicates:
        raise ConfigError(f"the same target is given twice: {', '.join(sorted(duplicates))}")
    return targets
