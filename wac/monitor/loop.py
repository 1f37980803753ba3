"""The monitor's check loop: the scheduler says which checks are due, probers run them.

`CheckLoop` runs in its own thread. Each turn it starts the due checks, each with the
prober of its target's URL scheme (`wac.probes.registry`; the loop names no protocol),
waits in its reactor until a descriptor is ready, a prober's timer is due, the next
check is due or another thread wakes it, then collects the checks that ended: each
becomes a CheckResult handed to the sink, and the scheduler plans the target's next
check. The checks in flight are limited to what the targets need, up to `max_in_flight`
(`wac.monitor.in_flight`, fed once per turn). Other threads only call `set_targets`,
`change_targets` and `stop`, which wake it through the reactor's eventfd.
Changes (`change_targets`, the fleet's way, and what a reloaded list changes) are
applied a few milliseconds' worth per turn, so a batch of 100,000 never holds up the
checks due meanwhile. The contract between the loop and the probers is in
`wac.probes.contract`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from wac.monitor.gc_pause import GC_PAUSE
from wac.monitor.in_flight import InFlightLimit
from wac.monitor.scheduler import (
    ADDED,
    CHANGED,
    DEFAULT_MAX_IN_FLIGHT,
    Scheduler,
    SchedulerStats,
    Slot,
)
from wac.probes.contract import Failure, ProbeContext, Prober, ProberFactory
from wac.probes.failure import describe_failure, failed_result
from wac.probes.policy import DEFAULT_POLICY, ProbePolicy
from wac.probes.reactor import EpollReactor
from wac.probes.registry import factory_for
from wac.result import CheckResult
from wac.targets import Target

log = logging.getLogger(__name__)

MAX_WAIT_S = 0.5  # the loop looks at new targets and the stop flag at least this often
# At most this long applying target changes per turn: a turn at full load lasts tens of
# milliseconds (a thousand checks in flight), so 100,000 changes take a few turns.
CHANGES_BUDGET_S = 0.02
CHANGES_BETWEEN_CLOCK_READS = 64

# One queued change: a target to add or update, the id of one to remove, or an event set
# once every change queued before it is applied.
_Change = Target | str | threading.Event


class CheckLoop:
    """Scheduler + probers: runs every target's checks until `stop()`, in `run()`'s thread."""

    def __init__(
        self,
        sink: Callable[[CheckResult], None],
        *,
        monitor: str,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        policy: ProbePolicy = DEFAULT_POLICY,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._sink = sink
        self._monitor = monitor
        self._clock = clock
        # The grid is anchored to wall-clock time (the Unix epoch expressed on `clock`), so a
        # restarted monitor, or another worker, keeps each target on the same slots: no
        # check repeated right after a restart, no burst of overdue checks.
        self.scheduler = Scheduler(epoch=clock() - wall_clock(), max_in_flight=max_in_flight)
        # Checks in flight sized to what the targets need, up to max_in_flight.
        self.in_flight_limit = InFlightLimit(max_in_flight, time.monotonic())
        self.scheduler.max_in_flight = self.in_flight_limit.value
        self._reactor = EpollReactor()
        self._context = ProbeContext(
            monitor=monitor, policy=policy, reactor=self._reactor, max_in_flight=max_in_flight
        )
        self._by_scheme: dict[str, Prober] = {}
        self._by_factory: dict[ProberFactory, Prober] = {}
        self._probers: list[Prober] = []  # each one once, in the order they were made
        self._failing: set[str] = set()  # targets whose checks raised, logged once each
        self._lock = threading.Lock()
        self._pending: list[Target] | None = None
        self._pending_applied: threading.Event | None = None
        self._listed: dict[str, Target] | None = None  # the last list given to set_targets
        self._relisted = False
        self._changes: deque[_Change] = deque()
        self._change_counts = [0, 0, 0]  # added, removed, changed since the last log line
        self._holds_gc_pause = False  # while changes wait (wac.monitor.gc_pause)
        self._stopping = threading.Event()

    @property
    def stats(self) -> SchedulerStats:
        return self.scheduler.stats

    def set_targets(self, targets: Iterable[Target]) -> threading.Event:
        """Replace the target list (from any thread); the event is set once it is applied.

        The first list is applied by the loop at once, before any check runs. A later one
        (a reload) is compared here, in the caller's thread, with the previous list, and
        only its differences are queued as changes (`change_targets`): the loop applies
        them a few milliseconds' worth per turn, so a reload of 100,000 targets never
        holds up the checks due meanwhile. The lists are one owner's (a targets file):
        targets added by `change_targets` are not part of them.
        """
        wanted = {t.id: t for t in targets}
        with self._lock:
            previous, self._listed = self._listed, wanted
            if previous is None:
                applied = threading.Event()
                self._pending = list(wanted.values())
                self._pending_applied = applied
        if previous is None:
            self._reactor.wake()
            return applied
        remove = [target_id for target_id in previous if target_id not in wanted]
        upsert = [t for target_id, t in wanted.items() if previous.get(target_id) != t]
        self._relisted = True  # say again what still cannot be checked
        return self.change_targets(upsert, remove)

    def change_listed(self, upsert: list[Target], remove: list[str]) -> threading.Event:
        """The differences from the last list given to `set_targets` to a new one, already
        found elsewhere (a reload compared in a child process, wac.monitor.reload_child):
        the list is brought up to date and they are queued as `set_targets` queues them."""
        with self._lock:
            listed = self._listed
            if listed is not None:
                for target_id in remove:
                    listed.pop(target_id, None)
                for target in upsert:
                    listed[target.id] = target
        self._relisted = True  # say again what still cannot be checked
        return self.change_targets(upsert, remove)

    def change_targets(
        self, upsert: Iterable[Target] = (), remove: Iterable[str] = ()
    ) -> threading.Event:
        """Add or update targets, and remove others by id (from any thread); the event is
        set once the loop has applied them (removals first, then the rest)."""
        applied = threading.Event()
        with self._lock:
            self._changes.extend(remove)
            self._changes.extend(upsert)
            self._changes.append(applied)
        self._reactor.wake()
        return applied

    def stop(self) -> None:
        """Make `run()` return soon, abandoning the checks in flight (from any thread)."""
        self._stopping.set()
        self._reactor.wake()

    def run(self) -> None:
        scheduler = self.scheduler
        reactor = self._reactor
        probers = self._probers
        clock = self._clock
        limit = self.in_flight_limit
        monotonic = time.monotonic
        try:
            while not self._stopping.is_set():
                if self._pending is not None:
                    self._apply_targets()
                if self._changes:
                    self._apply_changes()
                for slot in scheduler.take_due(clock()):
                    self._start(slot)
                due = scheduler.next_due()
                wait = MAX_WAIT_S if due is None else min(MAX_WAIT_S, max(0.0, due - clock()))
                if self._changes:
                    wait = 0.0  # more changes to apply: only look at the probers
                for prober in probers:
                    timeout = prober.timeout()
                    if timeout is not None and timeout < wait:
                        wait = timeout
                idle = reactor.wait(wait)
                scheduler.max_in_flight = limit.turn(
                    monotonic(),
                    idle,
                    scheduler.held_back,
                    scheduler.stats.in_flight,
                    scheduler.due_rate,
                )
                for prober in probers:
                    # Tokens are the slots given to `start`; no cast(): a call per check.
                    for token, outcome in prober.collect():
                        if type(outcome) is Failure:
                            self._failed(token, outcome.what, outcome.error)  # type: ignore[arg-type]
                        else:
                            self._deliver(token, outcome)  # type: ignore[arg-type]
        finally:
            if self._holds_gc_pause:
                self._holds_gc_pause = False
                GC_PAUSE.release()
            for prober in probers:
                prober.close()
            reactor.close()

    def _prober(self, scheme: str) -> Prober:
        """The prober of a URL scheme, made on first use (one per factory)."""
        factory = factory_for(scheme)
        prober = self._by_factory.get(factory)
        if prober is None:
            prober = self._by_factory[factory] = factory(self._context)
            self._probers.append(prober)
        self._by_scheme[scheme] = prober
        return prober

    def _apply_targets(self) -> None:
        with self._lock:
            targets, self._pending = self._pending, None
            applied, self._pending_applied = self._pending_applied, None
        if targets is None:
            return
        added, removed, changed = self.scheduler.set_targets(targets, self._clock())
        if applied is not None:
            applied.set()
        if added or removed or changed:
            self._log_counts(added, removed, changed)

    def _apply_changes(self) -> None:
        """Apply queued changes for at most CHANGES_BUDGET_S."""
        changes, scheduler, clock = self._changes, self.scheduler, self._clock
        if not self._holds_gc_pause:
            self._holds_gc_pause = True
            GC_PAUSE.acquire()
        counts = self._change_counts
        if self._relisted:
            self._relisted = False
            self._failing.clear()  # a new list: say again what still cannot be checked
        now = clock()
        deadline = now + CHANGES_BUDGET_S
        applied = 0
        while changes:
            change = changes.popleft()
            if isinstance(change, Target):
                outcome = scheduler.upsert(change, now)
                counts[0] += outcome == ADDED
                counts[2] += outcome == CHANGED
                if outcome == CHANGED:
                    self._failing.discard(change.id)
            elif isinstance(change, str):
                counts[1] += scheduler.remove(change)
            else:
                change.set()
                if not changes and any(counts):
                    self._log_changes()
            applied += 1
            if applied % CHANGES_BETWEEN_CLOCK_READS == 0:
                now = clock()
                if now >= deadline and changes:
                    return  # the rest on the next turn, the collector still held off
        self._holds_gc_pause = False
        GC_PAUSE.release()

    def _log_changes(self) -> None:
        added, removed, changed = self._change_counts
        # In place: `_apply_changes` goes on counting in this list when another thread
        # queued more changes right after the ones just logged.
        self._change_counts[:] = [0, 0, 0]
        self._log_counts(added, removed, changed)

    def _log_counts(self, added: int, removed: int, changed: int) -> None:
        log.info(
            "targets: %d added, %d removed, %d changed, %d in all",
            added,
            removed,
            changed,
            len(self.scheduler),
        )

    def _start(self, slot: Slot) -> None:
        target = slot.target
        try:
            prober = self._by_scheme.get(target.scheme) or self._prober(target.scheme)
            prober.start(target, slot)
        except Exception as exc:  # a target that cannot be checked costs its result only
            self._failed(slot, "the check could not start", exc)

    def _failed(self, slot: Slot, what: str, exc: Exception) -> None:
        """A result of kind `other` saying why; one log line per target, not per check."""
        target = slot.target
        message = describe_failure(target, what, exc)
        if target.id not in self._failing:
            self._failing.add(target.id)
            log.error("check of %s: %s (logged once per target)", target.id, message)
        self._deliver(slot, failed_result(target, self._monitor, message))

    def _deliver(self, slot: Slot, result: CheckResult) -> None:
        """The check is over: schedule the target's next one, hand the result on."""
        self.scheduler.finished(slot, self._clock())
        response_ms = result.response_time_ms
        if response_ms is not None and response_ms < self.in_flight_limit.fastest_ms:
            self.in_flight_limit.fastest_ms = response_ms
        try:
            self._sink(result)
        except Exception:
            log.exception("could not hand over the result of a check of %s", slot.target.id)
