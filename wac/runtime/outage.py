"""Outage log lines: one when a service stops making progress, one when it resumes.

`OutageTracker` does no I/O and reads no clock: `down` and `up` take the time and return
the line to log, or None when there is nothing new to say. However many errors and
retries an outage holds, it gives exactly two lines, and the second carries the true
duration: from when progress stopped (which may be before the outage was noticed) to
when it resumed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LogLine:
    level: int
    text: str


def emit(logger: logging.Logger, line: LogLine | None) -> None:
    if line is not None:
        logger.log(line.level, "%s", line.text)


@dataclass
class OutageTracker:
    """The outage state of one dependency ("Kafka", "PostgreSQL") as one service sees it.

    `meanwhile` ends the start line: what the service does while it waits. Safe to call
    from several threads.
    """

    dependency: str
    meanwhile: str = ""
    outages: int = 0  # started so far
    _since: float | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def down_since(self) -> float | None:
        """When progress stopped, if the dependency is down now."""
        return self._since

    def down(self, reason: str, now: float, since: float | None = None) -> LogLine | None:
        """An outage starts (unless one is running): progress stopped at `since` (`now`)."""
        with self._lock:
            if self._since is not None:
                return None
            start = now if since is None else min(since, now)
            self._since = start
            self.outages += 1
        text = f"{self.dependency} unavailable: {reason}"
        if now - start >= 0.05:
            text += f", no progress for {now - start:.1f} s"
        if self.meanwhile:
            text += f"; {self.meanwhile}"
        return LogLine(logging.ERROR, text)

    def up(self, now: float, detail: str = "") -> LogLine | None:
        """The outage, if one is running, ends: progress resumed at `now`."""
        with self._lock:
            if self._since is None:
                return None
            seconds = max(0.0, now - self._since)
            self._since = None
        text = f"{self.dependency} is back after {seconds:.1f} s"
        return LogLine(logging.WARNING, f"{text}; {detail}" if detail else text)
