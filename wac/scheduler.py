"""Runs each target's checks on its own interval and hands every result to a sink.

- Targets sharing an interval are spread over it (a stable per-target offset) rather
  than all firing together.
- A target's next check never starts before its previous one finished.
- At most `max_in_flight` checks run at once.
- Lateness (start time minus due time) of every check is recorded.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from wac.result import CheckResult
from wac.targets import Target

log = logging.getLogger(__name__)

Probe = Callable[[Target], Awaitable[CheckResult]]
Sink = Callable[[CheckResult], None]


def stable_fraction(text: str) -> float:
    """A number in [0, 1) fixed for a given text, the same in every process."""
    return (zlib.crc32(text.encode()) & 0xFFFFFFFF) / 2**32


@dataclass
class SchedulerStats:
    started: int = 0
    finished: int = 0
    lateness_s: list[float] = field(default_factory=list)
    keep_lateness: bool = False

    def record_lateness(self, late: float) -> None:
        if self.keep_lateness:
            self.lateness_s.append(late)


class Scheduler:
    def __init__(
        self,
        probe: Probe,
        sink: Sink,
        *,
        max_in_flight: int = 1000,
        on_lateness: Callable[[float], None] | None = None,
    ) -> None:
        self._probe = probe
        self._sink = sink
        self._limit = asyncio.Semaphore(max_in_flight)
        self._tasks: dict[str, tuple[Target, asyncio.Task[None]]] = {}
        self._on_lateness = on_lateness
        self.stats = SchedulerStats()

    @property
    def targets(self) -> list[Target]:
        return [target for target, _ in self._tasks.values()]

    def set_targets(self, targets: Iterable[Target]) -> None:
        """Start added targets, stop removed ones, restart changed ones; keep the rest."""
        wanted = {t.id: t for t in targets}
        for target_id in list(self._tasks):
            current, task = self._tasks[target_id]
            if wanted.get(target_id) != current:
                task.cancel()
                del self._tasks[target_id]
        for target_id, target in wanted.items():
            if target_id not in self._tasks:
                task = asyncio.get_running_loop().create_task(
                    self._run_target(target), name=f"check {target_id}"
                )
                self._tasks[target_id] = (target, task)

    async def stop(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run_target(self, target: Target) -> None:
        now = time.monotonic()
        due = now + stable_fraction(target.id) * target.interval
        while True:
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            async with self._limit:
                late = time.monotonic() - due
                self.stats.started += 1
                self.stats.record_lateness(late)
                if self._on_lateness is not None:
                    self._on_lateness(late)
                try:
                    result = await self._probe(target)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("check of %s failed unexpectedly", target.id)
                    result = None
            if result is not None:
                self.stats.finished += 1
                self._sink(result)
            due += target.interval
            now = time.monotonic()
            if due < now:
                # Overran: skip the missed slots instead of firing a burst to catch up.
                missed = int((now - due) // target.interval) + 1
                due += missed * target.interval
