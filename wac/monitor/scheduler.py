"""When each target is checked: a clock-driven schedule, free of I/O and threads.

The check loop (wac.monitor.loop) asks `take_due(now)` for the checks to start, starts
them, and reports each end with `finished(slot, now)`. Everything here is plain
logic on a heap, so it is tested with a fake clock and costs a few microseconds per
check even with tens of thousands of targets.

- Each target has its own interval. Its checks fall on a fixed grid,
  `epoch + offset + k * interval`, where `offset` is a stable fraction of the
  interval derived from the target id: targets sharing an interval are spread over
  it instead of firing together, and the spread is the same in every process.
- A target's next check never starts before its previous one finished. A check
  that overran its next slot skips the missed slots (counted in `stats.skipped`)
  instead of firing a burst to catch up.
- At most `max_in_flight` checks run at once; due checks wait, earliest due first
  (`held_back` says whether the last `take_due` left due checks waiting for room). The
  check loop moves `max_in_flight` with what its targets need (wac.monitor.in_flight).
- Lateness (start time minus due time) of every check is recorded in histograms.
- `set_targets` applies a new target list, `upsert` and `remove` one change at a
  time: added targets start on their grid, removed ones stop (one in flight finishes
  but is not rescheduled), changed ones take effect from their next check; a target
  whose interval is unchanged keeps its rhythm.
"""

from __future__ import annotations

import heapq
import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from wac.monitor.histogram import Histogram
from wac.targets import Target

DEFAULT_MAX_IN_FLIGHT = 1000

# What `Scheduler.upsert` did.
ADDED, CHANGED, UNCHANGED = "added", "changed", "unchanged"


def stable_fraction(text: str) -> float:
    """A number in [0, 1) fixed for a given text, the same in every process."""
    return (zlib.crc32(text.encode()) & 0xFFFFFFFF) / 2**32


class Slot:
    """The schedule of one target: its next due time and whether a check is running."""

    __slots__ = ("due", "generation", "in_flight", "offset", "removed", "target")

    def __init__(self, target: Target, offset: float, due: float) -> None:
        self.target = target
        self.offset = offset
        self.due = due
        self.in_flight = False
        self.removed = False
        self.generation = 0


@dataclass
class SchedulerStats:
    """Counters and lateness, read by the periodic summary (and later by metrics)."""

    started: int = 0
    finished: int = 0
    skipped: int = 0  # slots missed because the previous check of the target overran
    in_flight: int = 0
    targets: int = 0
    lateness: Histogram = field(default_factory=Histogram)  # since the start
    recent_lateness: Histogram = field(default_factory=Histogram)  # since the last take

    def take_recent_lateness(self) -> Histogram:
        """The lateness recorded since the previous call (for periodic summaries)."""
        recent, self.recent_lateness = self.recent_lateness, Histogram()
        return recent


class Scheduler:
    def __init__(self, *, epoch: float, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.epoch = epoch
        self.max_in_flight = max_in_flight
        self.stats = SchedulerStats()
        self._slots: dict[str, Slot] = {}
        self._retiring: dict[str, Slot] = {}  # removed while a check of theirs runs
        # (due, sequence, generation, slot); entries whose generation is stale are skipped.
        self._heap: list[tuple[float, int, int, Slot]] = []
        self._sequence = 0
        self.held_back = False  # the last take_due left due checks waiting for room
        self.due_rate = 0.0  # checks per second the targets ask for: sum of 1/interval

    @property
    def targets(self) -> list[Target]:
        return [slot.target for slot in self._slots.values()]

    def __len__(self) -> int:
        return len(self._slots)

    def set_targets(self, targets: Iterable[Target], now: float) -> tuple[int, int, int]:
        """Apply a new target list; returns (added, removed, changed)."""
        wanted = {t.id: t for t in targets}
        removed = sum(self.remove(i) for i in [i for i in self._slots if i not in wanted])
        added = changed = 0
        for target in wanted.values():
            outcome = self.upsert(target, now)
            added += outcome == ADDED
            changed += outcome == CHANGED
        return added, removed, changed

    def upsert(self, target: Target, now: float) -> str:
        """Add a target or replace its settings: ADDED, CHANGED or UNCHANGED.

        An added target starts on its grid (the next grid point from `now`), so a target
        handed from one monitor to another keeps its slots.
        """
        target_id = target.id
        current = self._slots.get(target_id)
        if current is None and target_id in self._retiring:
            # Back before its last check ended: the same slot, so no overlap.
            slot = self._retiring.pop(target_id)
            slot.removed = False
            self._slots[target_id] = slot
            self.due_rate += 1 / slot.target.interval
            self._reconfigure(slot, target, now)
            outcome = ADDED
        elif current is None:
            offset = stable_fraction(target_id) * target.interval
            slot = Slot(target, offset, self._next_grid_point(target.interval, offset, now))
            self._slots[target_id] = slot
            self.due_rate += 1 / target.interval
            self._push(slot)
            outcome = ADDED
        elif current.target != target:
            self._reconfigure(current, target, now)
            outcome = CHANGED
        else:
            return UNCHANGED
        self.stats.targets = len(self._slots)
        return outcome

    def remove(self, target_id: str) -> bool:
        """Stop checking a target (a check in flight ends but is not rescheduled)."""
        slot = self._slots.pop(target_id, None)
        if slot is None:
            return False
        slot.removed = True
        slot.generation += 1
        self.due_rate = max(0.0, self.due_rate - 1 / slot.target.interval)
        if slot.in_flight:
            self._retiring[target_id] = slot
        self.stats.targets = len(self._slots)
        return True

    def _reconfigure(self, slot: Slot, target: Target, now: float) -> None:
        """New settings for a target; a new interval moves it to the new interval's grid."""
        old_interval = slot.target.interval
        slot.target = target
        if target.interval == old_interval:
            return  # same grid: the rhythm is kept
        self.due_rate = max(0.0, self.due_rate + 1 / target.interval - 1 / old_interval)
        slot.offset = stable_fraction(target.id) * target.interval
        due = self._next_grid_point(target.interval, slot.offset, now)
        if slot.in_flight:
            slot.due = due - target.interval  # `finished` adds one interval
        else:
            slot.due = due
            slot.generation += 1
            self._push(slot)

    def next_due(self) -> float | None:
        """When the earliest waiting check is due; None when nothing waits or none may start."""
        if self.stats.in_flight >= self.max_in_flight:
            return None
        heap = self._heap
        while heap:
            due, _, generation, slot = heap[0]
            if generation == slot.generation and not slot.removed:
                return due
            heapq.heappop(heap)
        return None

    def take_due(self, now: float) -> list[Slot]:
        """The checks to start now, marked in flight, earliest due first."""
        started: list[Slot] = []
        heap = self._heap
        stats = self.stats
        room = self.max_in_flight - stats.in_flight
        while heap and room > 0 and heap[0][0] <= now:
            due, _, generation, slot = heapq.heappop(heap)
            if generation != slot.generation or slot.removed:
                continue
            slot.in_flight = True
            late = now - due
            stats.lateness.record(late)
            stats.recent_lateness.record(late)
            started.append(slot)
            room -= 1
        self.held_back = room <= 0 and bool(heap) and heap[0][0] <= now
        stats.in_flight += len(started)
        stats.started += len(started)
        return started

    def finished(self, slot: Slot, now: float) -> None:
        """A check of `slot` ended at `now`: schedule the target's next one."""
        slot.in_flight = False
        self.stats.in_flight -= 1
        self.stats.finished += 1
        if slot.removed:
            if self._retiring.get(slot.target.id) is slot:
                del self._retiring[slot.target.id]
            return
        interval = slot.target.interval
        due = slot.due + interval
        if due < now:
            missed = math.ceil((now - due) / interval)
            self.stats.skipped += missed
            due += missed * interval
        slot.due = due
        slot.generation += 1
        self._push(slot)

    def _next_grid_point(self, interval: float, offset: float, now: float) -> float:
        first = self.epoch + offset
        if now <= first:
            return first
        return first + math.ceil((now - first) / interval) * interval

    def _push(self, slot: Slot) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (slot.due, self._sequence, slot.generation, slot))
