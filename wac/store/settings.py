"""The store's own settings (`WAC_STORE_...`), all optional.

The variables, their defaults and bounds are defined in wac.settings.variables (and
listed in the README's table from there); a bad value is a ConfigError naming the
variable and what a good one looks like.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wac.settings import variables as v
from wac.settings.bound import bound, read_bound


@dataclass(frozen=True)
class StoreSettings:
    # A batch is written when it holds this many results...
    batch_size: int = bound(v.WAC_STORE_BATCH_SIZE)
    # ...or when its first result has waited this long (seconds).
    batch_wait_s: float = bound(v.WAC_STORE_BATCH_WAIT)
    # Whole daily partitions older than this many days are dropped; 0 keeps everything.
    retention_days: int = bound(v.WAC_STORE_RETENTION_DAYS)
    # A message larger than this (bytes) is rejected to rejected_messages.
    max_message_bytes: int = bound(v.WAC_STORE_MAX_MESSAGE_BYTES)
    # `targets.last_seen` is rewritten at least this often (seconds) per target; a change
    # of status is written at once. 0 writes every check.
    targets_refresh_s: float = bound(v.WAC_STORE_TARGETS_REFRESH)
    # A one-line summary is logged this often (seconds); 0 turns it off.
    stats_interval_s: float = bound(v.WAC_STORE_STATS_INTERVAL)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StoreSettings:
        return read_bound(cls, environ)
