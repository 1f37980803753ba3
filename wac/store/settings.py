"""The store's own settings, read from the environment (`WAC_STORE_...`), all optional.

Every one is listed in the README's environment table. A bad value is a ConfigError
naming the variable and an example of a good one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from wac.config import load_environment
from wac.errors import ConfigError


@dataclass(frozen=True)
class StoreSettings:
    # A batch is written when it holds this many results...
    batch_size: int = 10000
    # ...or when its first result has waited this long (seconds).
    batch_wait_s: float = 0.1
    # Whole daily partitions older than this many days are dropped; 0 keeps everything.
    retention_days: int = 0
    # A message larger than this (bytes) is rejected to rejected_messages.
    max_message_bytes: int = 65536
    # `targets.last_seen` is rewritten at least this often (seconds) per target; a change
    # of status is written at once. 0 writes every check.
    targets_refresh_s: float = 60.0
    # A one-line summary is logged this often (seconds); 0 turns it off.
    stats_interval_s: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StoreSettings:
        env = load_environment() if environ is None else environ
        return cls(
            batch_size=_int(env, "WAC_STORE_BATCH_SIZE", cls.batch_size, low=1),
            batch_wait_s=_seconds(env, "WAC_STORE_BATCH_WAIT", cls.batch_wait_s, zero_ok=False),
            retention_days=_int(env, "WAC_STORE_RETENTION_DAYS", cls.retention_days, low=0),
            max_message_bytes=_int(
                env, "WAC_STORE_MAX_MESSAGE_BYTES", cls.max_message_bytes, low=1024
            ),
            targets_refresh_s=_seconds(env, "WAC_STORE_TARGETS_REFRESH", cls.targets_refresh_s),
            stats_interval_s=_seconds(env, "WAC_STORE_STATS_INTERVAL", cls.stats_interval_s),
        )


def _int(env: Mapping[str, str], name: str, default: int, *, low: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number: use e.g. {default}") from None
    if value < low:
        raise ConfigError(f"{name}={raw!r} must be at least {low}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float, *, zero_ok: bool = True) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not a number of seconds: use e.g. {default:g}"
        ) from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        bound = "zero or more" if zero_ok else "more than zero"
        raise ConfigError(f"{name}={raw!r} must be {bound} seconds")
    return value
