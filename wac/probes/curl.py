"""The HTTP prober: libcurl's multi interface, driven by the check loop's epoll.

`CurlEngine` runs many `HttpCheck`s at once on one curl multi handle: libcurl tells
which sockets it wants watched (M_SOCKETFUNCTION) and when it wants a timeout
(M_TIMERFUNCTION); the engine watches them in the loop's reactor and calls
`socket_action` for exactly the sockets that are ready. That scales to thousands of
transfers in flight and costs a few Python calls per event. Measured on 2 cores against
a local nginx, a fresh connection per request: a thread-and-epoll loop like this did
about 14,000 requests/s, the same callbacks driven by asyncio's event loop
(add_reader/add_writer) about 10,600, and `select`/`perform` 13,400 (but limited to
1024 descriptors); docs/design-decisions.md has the comparison.

`HttpProber` is the probe contract (`wac.probes.contract`) for `http://` and
`https://`: it owns the engine and the pattern matcher, which looks for body patterns
off the loop's thread.

Every check gets a fresh connection and a fresh name lookup (HttpCheck sets
FRESH_CONNECT, FORBID_REUSE, DNS_CACHE_TIMEOUT=0 and no TLS session cache), so
nothing is shared between checks through the multi handle's caches even though checks
and their easy handles are reused (pooled, their shared options kept set).
"""

from __future__ import annotations

import contextlib
import select
import time

import pycurl

from wac.probes.contract import Completion, Failure, ProbeContext, Reactor, ReadyHandler
from wac.probes.http import HttpCheck
from wac.probes.matcher import PatternMatcher
from wac.probes.policy import DEFAULT_POLICY, ProbePolicy
from wac.targets import Target

Finished = tuple[HttpCheck, int, str]  # the check, libcurl's code (0: done), its message


def _curl_flags(mask: int) -> int:
    """libcurl's CSELECT flags for an epoll event mask."""
    flags = 0
    if mask & (select.EPOLLIN | select.EPOLLHUP):
        flags |= pycurl.CSELECT_IN
    if mask & select.EPOLLOUT:
        flags |= pycurl.CSELECT_OUT
    if mask & select.EPOLLERR:
        flags |= pycurl.CSELECT_ERR
    return flags


# Looked up per event, by the mask's low five bits (EPOLLIN, PRI, OUT, ERR, HUP).
_CURL_FLAGS = tuple(_curl_flags(mask) for mask in range(32))


class CurlEngine:
    """Many transfers at once on one curl multi handle, watched in a reactor."""

    def __init__(self, reactor: Reactor, *, pool_size: int) -> None:
        self._reactor = reactor
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._deadline: float | None = None  # when libcurl wants socket_action(TIMEOUT)
        self._checks: dict[int, HttpCheck] = {}  # id(easy handle) -> its check
        self._pool: list[HttpCheck] = []  # finished checks, their handles configured
        self._pool_size = pool_size
        self._closed = False
        # The reactor's handler for libcurl's sockets, called once per ready socket.
        socket_action = self._multi.socket_action
        self._on_ready: ReadyHandler = lambda fd, mask: socket_action(fd, _CURL_FLAGS[mask & 31])

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
        pool = self._pool
        while pool:
            check = pool.pop()
            if check.monitor == monitor and check.policy is policy:
                check.prepare(target, slot)
                return check
            check.close()
        return HttpCheck(target, monitor, policy=policy, slot=slot)

    def start(self, check: HttpCheck) -> None:
        self._checks[id(check.easy)] = check
        try:
            self._multi.add_handle(check.easy)
        except Exception:
            del self._checks[id(check.easy)]
            raise

    def recycle(self, check: HttpCheck) -> None:
        """Keep the check, its handle configured, for a later one (up to the pool size)."""
        if len(self._pool) < self._pool_size:
            check.release()
            self._pool.append(check)
        else:
            check.close()

    def timeout(self) -> float | None:
        """Seconds until libcurl's timer is due; None when it has none."""
        deadline = self._deadline
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def finished(self) -> list[Finished]:
        """Serve libcurl's timer if it is due; the transfers that ended since last time."""
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self._deadline = None
            self._multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
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
        if what == pycurl.POLL_REMOVE:
            self._reactor.unwatch(fd)
            return
        mask = (select.EPOLLIN if what & pycurl.POLL_IN else 0) | (
            select.EPOLLOUT if what & pycurl.POLL_OUT else 0
        )
        self._reactor.watch(fd, mask, self._on_ready)

    def _on_timer(self, timeout_ms: int) -> None:
        self._deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000.0

    def close(self) -> None:
        """Abandon the transfers still running and free everything."""
        if self._closed:
            return
        self._closed = True
        for check in self._checks.values():
            with contextlib.suppress(pycurl.error):
                self._multi.remove_handle(check.easy)
            check.close()
        self._checks.clear()
        for check in self._pool:
            check.close()
        self._pool.clear()
        self._multi.close()


class HttpProber:
    """`http://` and `https://` checks: the curl engine plus the pattern matcher."""

    def __init__(self, context: ProbeContext) -> None:
        self._monitor = context.monitor
        self._policy = context.policy
        self._engine = CurlEngine(context.reactor, pool_size=context.max_in_flight)
        self._matcher = PatternMatcher(context.reactor.wake)

    def start(self, target: Target, token: object) -> None:
        engine = self._engine
        engine.start(engine.new_check(target, self._monitor, policy=self._policy, slot=token))

    def timeout(self) -> float | None:
        return self._engine.timeout()

    def collect(self) -> list[Completion]:
        done: list[Completion] = []
        engine = self._engine
        for check, code, message in engine.finished():
            try:
                result, response = check.finish_transfer(code, message)
            except Exception as exc:
                check.close()
                done.append((check.slot, Failure("the check could not finish", exc)))
                continue
            slot, target = check.slot, check.target
            engine.recycle(check)
            if response is None:
                done.append((slot, result))
            else:
                self._matcher.submit(slot, result, target, response)
        done.extend(self._matcher.take_done())
        return done

    def close(self) -> None:
        self._engine.close()
        self._matcher.close()
