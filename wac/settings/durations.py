"""Durations: one grammar for every setting, option and file field that takes one.

A duration is a decimal number with an optional unit: `250ms`, `10s`, `5m`, `1h`, `1d`,
`2w`, `1.5s`, `.5s`; white space around or between the two is allowed. A bare number is
a number of seconds, where the setting accepts one (everywhere but the report windows,
which always name their unit). In YAML and JSON a bare number may also be written as a
number. In the environment and on the command line, where settings were plain floats
before this grammar, a bare number is anything Python reads as a float (`1e-3`, `inf`),
so that the bounds, not the grammar, refuse what is too short or too long.

Each field has its bounds (wac.limits); a value outside them is a ConfigError that says
the bounds as a person writes them (`between 100ms and 24h`).
"""

from __future__ import annotations

import math
import re

from wac import limits
from wac.errors import ConfigError
from wac.yaml_config import shown

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d|w)?\s*$")
EXAMPLES = "500ms, 10s, 5m, 1h, 1d"


def seconds_in(text: str, *, bare: bool = True) -> float | None:
    """The seconds `text` writes in the grammar, or None when it is not a duration.

    Not bounded: a number of 400 digits is `inf`; the caller applies its bounds.
    """
    match = _DURATION.match(text)
    if match is None or (match.group(2) is None and not bare):
        return None
    try:
        number = float(match.group(1))
    except OverflowError:  # pragma: no cover (float() of digits gives inf, never raises)
        number = math.inf
    return number * UNITS[match.group(2) or "s"]


def describe(seconds: float) -> str:
    """`1ms`, `100ms`, `1h`, `24h`, `366d`: a bound as a person writes it."""
    return limits.describe_seconds(seconds)


def parse_duration(
    raw: object,
    where: str,
    field_name: str,
    *,
    maximum: float = limits.MAX_CONFIG_DURATION_S,
    minimum: float | None = None,
) -> float:
    """A duration field of a file (YAML or JSON): text in the grammar or a number of
    seconds; positive, at most `maximum`, at least `minimum` when given. Messages name
    the place (`where`) and the field."""
    if isinstance(raw, bool):
        raise ConfigError(f"{where}: {field_name} must be a duration such as 10s, not {raw!r}")
    seconds: float | None
    if isinstance(raw, int | float):
        try:
            seconds = float(raw)
        except OverflowError:  # an integer of hundreds of digits
            seconds = math.inf
    elif isinstance(raw, str):
        seconds = seconds_in(raw)
    else:
        seconds = None
    if seconds is None:
        raise ConfigError(
            f"{where}: {field_name} {shown(raw)} is not a duration: use e.g. {EXAMPLES}"
        )
    if not seconds > 0:
        raise ConfigError(f"{where}: {field_name} must be positive, got {shown(raw)}")
    if not seconds <= maximum:
        raise ConfigError(
            f"{where}: {field_name} {shown(raw)} is too long: at most {describe(maximum)}"
        )
    if minimum is not None:
        check_seconds(seconds, where, field_name, minimum, maximum)
    return seconds


def check_seconds(
    seconds: float, where: str, field_name: str, lowest: float, highest: float
) -> float:
    """`seconds` if within [lowest, highest] (and finite); a ConfigError saying the range."""
    if not lowest <= seconds <= highest:  # also refuses NaN
        raise ConfigError(
            f"{where}: {field_name} must be between {describe(lowest)} and "
            f"{describe(highest)}, got {shown(seconds)}"
        )
    return seconds


def parse_duration_text(
    text: str,
    name: str,
    *,
    lowest: float,
    highest: float,
    zero_ok: bool = False,
    bare: bool = True,
    examples: str = EXAMPLES,
) -> float:
    """A duration given as text in the environment or on the command line; `name` is the
    variable or option it came from, as messages name it (`CHECK_TIMEOUT='2h' ...`).

    `zero_ok`: 0 is accepted too (a setting that 0 turns off)."""
    quoted = shown(text)
    seconds = seconds_in(text, bare=bare)
    if seconds is None and bare:
        try:
            seconds = float(text)
        except ValueError:
            seconds = None
    if seconds is None or math.isnan(seconds):
        what = f"use e.g. {examples}" + (" or a number of seconds" if bare else "")
        raise ConfigError(f"{name}={quoted} is not a duration: {what}")
    if zero_ok and seconds == 0:
        return 0.0
    if not lowest <= seconds <= highest:
        off = "0 (off) or " if zero_ok else ""
        raise ConfigError(
            f"{name}={quoted} must be {off}between {describe(lowest)} and {describe(highest)}"
        )
    return seconds
