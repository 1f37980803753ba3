"""libcurl's multi interface, driven from one thread with epoll.

`CurlEngine` runs many `HttpCheck`s at once: libcurl tells which sockets it wants
watched (M_SOCKETFUNCTION) and when it wants a timeout (M_TIMERFUNCTION); the engine
watches them with one epoll object and calls `socket_action` for exactly the
sockets that are ready. That scales to thousands of transfers in flight (unlike
`select()`, which stops at file descriptor 1024) and costs a few Python calls per
event.

`CheckLoop` is the monitor's loop: the scheduler says which checks are due, the
engine runs them, each finished check becomes a CheckResult handed to the sink. It
runs in its own thread; other threads only call `set_targets` and `stop`, which wake
it through an eventfd. Measured on 2 cores against a local nginx, a fresh connection
per request: this thread-and-epoll loop did about 14,000 requests/s, the same
callbacks driven by asyncio's event loop (add_reader/add_writer) about 10,600, and
`select`/`perform` 13,400 (but limited to 1024 descriptors): see
docs/design-decisions.md.

Every check gets a fresh connection and a fresh name lookup (HttpCheck sets
FRESH_CONNECT, FORBID_REUSE, DNS_CACHE_TIMEOUT=0 and no TLS session cache), so
nothing is shared between checks through the multi handle's caches even though easy
handles are reused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterable
from typing import cast

import pycurl

from wac.monitor.scheduler import DEFAULT_MAX_IN_FLIGHT, Scheduler, SchedulerStats, Slot
from wac.probes.http import HttpCheck, describe_failure, failed_result
from wac.probes.matcher import PatternMatcher
from wac.probes.policy import DEFAULT_POLICY, ProbePolicy
from wac.result import CheckResult
from wac.targets import Target

log = logging.getLogger(__name__)

MAX_WAIT_S = 0.5  # the loop looks at new targets and the stop flag at least this often

Finished = tuple[HttpCheck, int, str]  # the check, libcurl's code (0: done), its message


class CurlEngine:
    """Many transfers at once on one curl multi handle, watched with epoll."""

    def __init__(self, *, pool_size: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._epoll = select.epoll()
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._wake_fd, select.EPOLLIN)
        self._watched: dict[int, int] = {}  # fd -> epoll mask
        self._deadline: float | None = None  # when libcurl wants socket_action(TIMEOUT)
        self._checks: dict[int, HttpCheck] = {}  # id(easy handle) -> its check
        self._pool: list[pycurl.Curl] = []
        self._pool_size = pool_size
        self._closed = False
        self._wake_lock = threading.Lock()

    @property
    def running(self) -> int:
        return len(self._checks)

    def new_check(
        self,
        target: Target,
        monitor: str,
        *,
        policy: ProbePolicy = DEFAULT_POLICY,
        slot: object = None,
    ) -> HttpCheck:
        easy = self._pool.pop() if self._pool else None
        return HttpCheck(target, monitor, easy, policy=policy, slot=slot)

    def start(self, check: HttpCheck) -> None:
        self._checks[id(check.easy)] = check
        try:
            self._multi.add_handle(check.easy)
        except Exception:
            del self._checks[id(check.easy)]
            raise

    def recycle(self, check: HttpCheck) -> None:
        """Keep the check's easy handle for a later check (up to the pool size)."""
        if len(self._pool) < self._pool_size:
            self._pool.append(check.release())
        else:
            check.close()

    def wake(self) -> None:
        """Make a `poll` that is waiting return now (safe from any thread)."""
        with self._wake_lock:  # never write to the descriptor once close() released it
            if not self._closed:
                os.eventfd_write(self._wake_fd, 1)

    def poll(self, timeout: float) -> list[Finished]:
        """Wait up to `timeout` s for socket events or libcurl's timer; the finished checks."""
        deadline = self._deadline
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - time.monotonic()))
        events = self._epoll.poll(timeout)
        multi = self._multi
        for fd, mask in events:
            if fd == self._wake_fd:
                with contextlib.suppress(BlockingIOError):
                    os.eventfd_read(fd)
                continue
            flags = 0
            if mask & (select.EPOLLIN | select.EPOLLHUP):
                flags |= pycurl.CSELECT_IN
            if mask & select.EPOLLOUT:
                flags |= pycurl.CSELECT_OUT
            if mask & select.EPOLLERR:
                flags |= pycurl.CSELECT_ERR
            multi.socket_action(fd, flags)
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self._deadline = None
            multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
        return self._reap()

    def _reap(self) -> list[Finished]:
        done: list[Finished] = []
        multi = self._multi
        while True:
            queued, ok, failed = multi.info_read()
            for easy in ok:
                multi.remove_handle(easy)
                done.append((self._checks.pop(id(easy)), 0, ""))
            for easy, code, message in failed:
                multi.remove_handle(easy)
                done.append((self._checks.pop(id(easy)), code, message))
            if not queued:
                return done

    def _on_socket(self, what: int, fd: int, multi: object, socketp: object) -> None:
        epoll = self._epoll
        if what == pycurl.POLL_REMOVE:
            if self._watched.pop(fd, None) is not None:
                # Already closed: the kernel dropped it.
                with contextlib.suppress(OSError, ValueError):
                    epoll.unregister(fd)
            return
        mask = (select.EPOLLIN if what & pycurl.POLL_IN else 0) | (
            select.EPOLLOUT if what & pycurl.POLL_OUT else 0
        )
        old = self._watched.get(fd)
        if old == mask:
            return
        try:
            if old is None:
                epoll.register(fd, mask)
            else:
                epoll.modify(fd, mask)
        except FileExistsError:
            epoll.modify(fd, mask)
        except FileNotFoundError:
            epoll.register(fd, mask)
        self._watched[fd] = mask

    def _on_timer(self, timeout_ms: int) -> None:
        self._deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000.0

    def close(self) -> None:
        """Abandon the transfers still running and free everything."""
        with self._wake_lock:
            if self._closed:
                return
            self._closed = True
        for check in self._checks.values():
            with contextlib.suppress(pycurl.error):
                self._multi.remove_handle(check.easy)
            check.close()
        self._checks.clear()
        for easy in self._pool:
            easy.close()
        self._pool.clear()
        self._multi.close()
        self._epoll.close()
        os.close(self._wake_fd)


def run_checks(
    targets: Iterable[Target],
    monitor: str,
    *,
    policy: ProbePolicy = DEFAULT_POLICY,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
) -> list[CheckResult]:
    """Check each target once, many at a time; results in the order of `targets`."""
    pending = list(enumerate(targets))
    pending.reverse()
    results: dict[int, CheckResult] = {}
    engine = CurlEngine(pool_size=max_in_flight)
    try:
        while pending or engine.running:
            while pending and engine.running < max_in_flight:
                index, target = pending.pop()
                try:
                    engine.start(engine.new_check(target, monitor, policy=policy, slot=index))
                except Exception as exc:
                    message = describe_failure(target, "the check could not start", exc)
                    results[index] = failed_result(target, monitor, message)
            for check, code, message in engine.poll(MAX_WAIT_S):
                index = cast(int, check.slot)
                try:
                    results[index] = check.finish(code, message)
                except Exception as exc:
                    reason = describe_failure(check.target, "the check could not finish", exc)
                    results[index] = failed_result(check.target, monitor, reason)
                engine.recycle(check)
    finally:
        engine.close()
    return [results[i] for i in sorted(results)]


class CheckLoop:
    """Scheduler + engine: runs every target's checks until `stop()`, in `run()`'s thread."""

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
        self._policy = policy
        self._clock = clock
        # The grid is anchored to wall-clock time (the Unix epoch expressed on `clock`), so a
        # restarted monitor, or another worker, keeps each target on the same slots: no
        # check repeated right after a restart, no burst of overdue checks.
        self.scheduler = Scheduler(epoch=clock() - wall_clock(), max_in_flight=max_in_flight)
        self._engine = CurlEngine(pool_size=max_in_flight)
        self._matcher = PatternMatcher(self._engine.wake)
        self._failing: set[str] = set()  # targets whose checks raised, logged once each
        self._lock = threading.Lock()
        self._pending: list[Target] | None = None
        self._stopping = threading.Event()

    @property
    def stats(self) -> SchedulerStats:
        return self.scheduler.stats

    def set_targets(self, targets: Iterable[Target]) -> None:
        """Replace the target list (from any thread); applied by the loop right away."""
        with self._lock:
            self._pending = list(targets)
        self._engine.wake()

    def stop(self) -> None:
        """Make `run()` return soon, abandoning the checks in flight (from any thread)."""
        self._stopping.set()
        self._engine.wake()

    def run(self) -> None:
        scheduler = self.scheduler
        engine = self._engine
        clock = self._clock
        try:
            while not self._stopping.is_set():
                if self._pending is not None:
                    self._apply_targets()
                for slot in scheduler.take_due(clock()):
                    self._start(slot)
                due = scheduler.next_due()
                wait = MAX_WAIT_S if due is None else min(MAX_WAIT_S, max(0.0, due - clock()))
                for check, code, message in engine.poll(wait):
                    self._finish(check, code, message)
                for token, result in self._matcher.take_done():
                    self._deliver(cast(Slot, token), result)
        finally:
            engine.close()
            self._matcher.close()

    def _apply_targets(self) -> None:
        with self._lock:
            targets, self._pending = self._pending, None
        if targets is None:
            return
        added, removed, changed = self.scheduler.set_targets(targets, self._clock())
        self._failing.clear()  # a new list: say again what still cannot be checked
        if added or removed or changed:
            log.info(
                "targets: %d added, %d removed, %d changed, %d in all",
                added,
                removed,
                changed,
                len(self.scheduler),
            )

    def _start(self, slot: Slot) -> None:
        try:
            check = self._engine.new_check(
                slot.target, self._monitor, policy=self._policy, slot=slot
            )
            self._engine.start(check)
        except Exception as exc:  # a target that cannot be checked costs its result only
            self._failed(slot, "the check could not start", exc)

    def _finish(self, check: HttpCheck, code: int, message: str) -> None:
        slot = check.slot
        assert isinstance(slot, Slot)
        try:
            result, body = check.finish_transfer(code, message)
        except Exception as exc:
            check.close()
            self._failed(slot, "the check could not finish", exc)
            return
        self._engine.recycle(check)
        if body is None:
            self._deliver(slot, result)
        else:
            self._matcher.submit(slot, result, slot.target, body)

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
        try:
            self._sink(result)
        except Exception:
            log.exception("could not hand over the result of a check of %s", slot.target.id)
