"""The store's counters, in one object that metrics exporters and the log can read.

Totals grow for the life of the process; the interval figures (batch write times,
freshness) are summed up and reset by each one-line summary in the log.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class StoreStats:
    consumed: int = 0  # messages taken from Kafka and settled (stored, rejected, skipped)
    inserted: int = 0  # new rows in checks
    replayed: int = 0  # rows that were already in checks (replays after a crash or rebalance)
    duplicates: int = 0  # the same id twice in one batch
    rejected: int = 0  # dead letters written to rejected_messages
    expired: int = 0  # results older than the retention horizon, skipped
    batches: int = 0
    target_updates: int = 0
    write_seconds: float = 0.0  # time spent writing batches (transactions, retries excluded)
    db_outages: int = 0
    kafka_outages: int = 0
    lag: int | None = None  # messages in the assigned partitions not consumed yet
    last_batch_size: int = 0
    last_write_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _interval_start: float = field(default_factory=time.monotonic, repr=False)
    _interval_consumed: int = field(default=0, repr=False)
    _interval_batches: int = field(default=0, repr=False)
    _interval_write_max: float = field(default=0.0, repr=False)
    _interval_write_sum: float = field(default=0.0, repr=False)
    _interval_freshness_max: float | None = field(default=None, repr=False)

    def record_batch(
        self,
        *,
        messages: int,
        inserted: int,
        replayed: int,
        duplicates: int,
        rejected: int,
        expired: int,
        target_updates: int,
        seconds: float,
        freshness_s: float | None,
    ) -> None:
        with self._lock:
            self.consumed += messages
            self.inserted += inserted
            self.replayed += replayed
            self.duplicates += duplicates
            self.rejected += rejected
            self.expired += expired
            self.target_updates += target_updates
            self.batches += 1
            self.write_seconds += seconds
            self.last_batch_size = messages
            self.last_write_seconds = seconds
            self._interval_consumed += messages
            self._interval_batches += 1
            self._interval_write_sum += seconds
            self._interval_write_max = max(self._interval_write_max, seconds)
            if freshness_s is not None:
                self._interval_freshness_max = max(self._interval_freshness_max or 0, freshness_s)

    def outage(self, service: str) -> None:
        with self._lock:
            if service == "postgres":
                self.db_outages += 1
            else:
                self.kafka_outages += 1

    def set_lag(self, lag: int | None) -> None:
        with self._lock:
            self.lag = lag

    def summary(self) -> str:
        """One line about the interval since the last summary (which it then resets)."""
        with self._lock:
            now = time.monotonic()
            elapsed = max(now - self._interval_start, 1e-9)
            batches = self._interval_batches
            avg_ms = 1000 * self._interval_write_sum / batches if batches else 0.0
            fresh = self._interval_freshness_max
            line = (
                f"store: {self._interval_consumed} results in {elapsed:.0f} s "
                f"({self._interval_consumed / elapsed:.0f}/s, {batches} batches, "
                f"write avg {avg_ms:.0f} ms max {1000 * self._interval_write_max:.0f} ms"
                + (f", oldest result {fresh:.1f} s old when stored" if fresh is not None else "")
                + f"); totals: {self.inserted} stored, {self.replayed + self.duplicates} "
                f"duplicates ignored, {self.rejected} rejected, {self.expired} expired; "
                f"lag {self.lag if self.lag is not None else 'unknown'}"
            )
            self._interval_start = now
            self._interval_consumed = 0
            self._interval_batches = 0
            self._interval_write_sum = 0.0
            self._interval_write_max = 0.0
            self._interval_freshness_max = None
            return line
