"""Parsers of setting values given as text (environment, `.env`, command line).

Each takes the text and the name it was given under (a variable such as
`WAC_WEB_PORT`, or an option such as `--port`) and returns the typed value, or raises a
one-line ConfigError naming that name and saying what a good value looks like. The
variables of wac.settings.variables and the options built from them use these, and
nothing else parses a setting.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from wac import conninfo
from wac.errors import ConfigError
from wac.settings.durations import parse_duration_text

Parser = Callable[[str, str], object]
_HEAP = re.compile(r"[1-9][0-9]{0,6}[kKmMgG]?")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= 40 else raw[:40] + "...")


def text(raw: str, name: str) -> str:
    """Any text, without the white space around it."""
    value = raw.strip()
    if not value:
        raise ConfigError(f"{name} is empty: give a value or leave it unset")
    return value


def boolean(raw: str, name: str) -> bool:
    """true/false (also 1/0, yes/no, on/off, any case): the seed's KAFKA_USE_SSL rule."""
    value = raw.strip().lower()
    if value in ("false", "0", "no", "off"):
        return False
    if value in ("true", "1", "yes", "on"):
        return True
    raise ConfigError(f"{name}={_shown(raw)} is not a boolean: use true or false")


def whole(
    low: int, high: int | None = None, example: int | None = None
) -> Callable[[str, str], int]:
    """A parser of whole numbers from `low` to `high` (no upper bound when None)."""

    def parse(raw: str, name: str) -> int:
        value = raw.strip()
        sample = example if example is not None else low
        if not value.isascii() or not value.lstrip("+-").isdigit() or len(value) > 20:
            raise ConfigError(f"{name}={_shown(raw)} is not a whole number: use e.g. {sample}")
        number = int(value)
        if number < low or (high is not None and number > high):
            if high is not None:
                bound = f"a whole number from {low} to {high}"
            else:
                bound = (
                    "a positive whole number" if low == 1 else f"a whole number of {low} or more"
                )
            raise ConfigError(f"{name}={_shown(raw)} must be {bound}")
        return number

    return parse


def port(raw: str, name: str) -> int:
    """A TCP port to listen on, 1 to 65535."""
    value = raw.strip()
    if not value.isascii() or not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"{name}={raw[:20]!r} is not a TCP port: use a number from 1 to 65535")
    return int(value)


def seconds(lowest: float, highest: float, *, zero_ok: bool = False) -> Callable[[str, str], float]:
    """A parser of durations (wac.settings.durations) within [lowest, highest]."""

    def parse(raw: str, name: str) -> float:
        return parse_duration_text(raw, name, lowest=lowest, highest=highest, zero_ok=zero_ok)

    return parse


def path(raw: str, name: str) -> Path:
    """A file or folder path; `~` is the home folder (`~user`: that user's)."""
    given = text(raw, name)
    try:
        return Path(given).expanduser()
    except RuntimeError:  # `~someone` of no known user, or no home folder known
        raise ConfigError(
            f"{name}={given!r}: the home folder in it is not known here; give the full path"
        ) from None


def existing_file(raw: str, name: str) -> Path:
    found = path(raw, name)
    if not found.is_file():
        raise ConfigError(f"{name}={raw!r} is not a file: give a PEM file of CA certs")
    return found


def kafka_endpoint(raw: str, name: str) -> str:
    """`host:port[,host:port...]`, optionally with a scheme as managed services print them.

    Returns the comma-separated bootstrap list librdkafka expects.
    """
    servers = []
    for part in raw.split(","):
        item = part.strip()
        if "://" in item:
            item = item.split("://", 1)[1]
        item = item.rstrip("/")
        host, sep, number = item.rpartition(":")
        if not sep or not host or not number.isdigit() or not 0 < int(number) < 65536:
            raise ConfigError(
                f"{name}={raw!r} is not host:port (e.g. kafka.example.com:9093); "
                "separate several brokers with commas"
            )
        servers.append(f"{host}:{number}")
    return ",".join(servers)


def postgres_endpoint(raw: str, name: str) -> str:
    """A libpq connection string (URL or key=value), checked by libpq; never shown whole."""
    value = raw.strip()
    conninfo.check(value, name)
    return value


def secret_token(raw: str, name: str) -> str:
    """A token a client sends back: printable, without spaces around it.

    Set but empty or blank is refused rather than read as unset: that is most often a
    secret that failed to arrive."""
    if not raw.strip():
        raise ConfigError(
            f"{name} is set but empty: set it to a secret, or unset it "
            + (
                "to serve without authentication"
                if name == "WAC_WEB_TOKEN"
                else "to turn the writes it allows off"
            )
        )
    if raw != raw.strip() or not raw.isprintable() or not _encodable(raw):
        raise ConfigError(
            f"{name} has leading or trailing spaces or characters that are not "
            "printable: a client could not send it back; use printable text"
        )
    return raw


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")  # bytes of the environment that were not UTF-8 are surrogates
    except UnicodeEncodeError:
        return False
    return True


def log_level(raw: str, name: str) -> str:
    value = raw.strip().upper()
    if value not in LOG_LEVELS:
        raise ConfigError(f"{name}={_shown(raw)} is not a log level: use {', '.join(LOG_LEVELS)}")
    return value


def heap_size(raw: str, name: str) -> str:
    """A JVM heap size as -Xmx takes it: `512m`, `2g`."""
    value = raw.strip()
    if not _HEAP.fullmatch(value):
        raise ConfigError(f"{name}={_shown(raw)} is not a heap size: use e.g. 512m or 2g")
    return value
