"""Helpers shared by the subcommands: error reporting and target collection."""

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
from wac.targets import Target, load_targets_file, target_from_url

P = ParamSpec("P")
R = TypeVar("R")


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
    seen: set[str] = set()
    duplicates: set[str] = set()
    for target in targets:
        (duplicates if target.id in seen else seen).add(target.id)
    if duplicates:
        raise ConfigError(f"the same target is given twice: {', '.join(sorted(duplicates))}")
    return targets


def validate_period(ctx: click.Context, param: click.Parameter, value: float | None) -> Any:
    if value is not None and not limits.MIN_INTERVAL_S <= value <= limits.MAX_INTERVAL_S:
        raise click.BadParameter(
            f"must be between {limits.MIN_INTERVAL_S:g} and {limits.MAX_INTERVAL_S:g} seconds"
        )
    return value
