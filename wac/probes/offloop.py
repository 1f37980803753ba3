"""Probers whose checks run off the check loop's thread, in an asyncio loop of their own.

`AsyncProber` runs a `ProbeFn` (a coroutine checking one target) for each check on an
asyncio event loop in a helper thread, started with the first check. Each finished
check is queued and the check loop is woken (`Reactor.wake`); the loop's next
`collect()` takes it. The check loop's thread never waits on a check, and a protocol
written as a few awaits (a TCP connect, a TLS handshake, a DNS query) needs nothing
else to join the loop. Each `ProbeFn` keeps to its target's timeout itself.

One `AsyncProber` may run the `ProbeFn`s of several schemes (picked by the target's
scheme), so that the protocols written this way share one helper thread and one
asyncio loop. `close()` cancels the checks in flight and lets them end (their
`finally` blocks close their sockets) before the loop stops.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future

from wac.probes.contract import (
    Completion,
    Failure,
    ProbeContext,
    ProbeFn,
    Prober,
    ProberFactory,
)
from wac.probes.handoff import Handoff
from wac.result import CheckResult
from wac.targets import Target


class AsyncProber:
    """The probe contract for a `ProbeFn`, on an asyncio loop in a helper thread."""

    def __init__(self, context: ProbeContext, probe: ProbeFn | Mapping[str, ProbeFn]) -> None:
        """`probe`: the coroutine of every check, or one per URL scheme."""
        self._context = context
        self._probe_for: Callable[[Target], ProbeFn] = (
            (lambda target: probe[target.scheme])
            if isinstance(probe, Mapping)
            else (lambda target: probe)
        )
        self._done: Handoff[Completion] = Handoff(context.reactor.wake)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, target: Target, token: object) -> None:
        probe = self._probe_for(target)  # a scheme it does not run: the check cannot start
        loop = self._loop or self._start_loop()
        future = asyncio.run_coroutine_threadsafe(probe(target, self._context), loop)
        future.add_done_callback(lambda f: self._finished(token, f))

    def timeout(self) -> float | None:
        return None  # nothing to do in the loop's thread but collect what ended

    def collect(self) -> list[Completion]:
        return self._done.take()

    def close(self) -> None:
        """Cancel the checks in flight and end the helper thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        loop.call_soon_threadsafe(_cancel_all_and_stop, loop)
        thread.join(5)
        if not thread.is_alive():
            loop.close()

    def _start_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="probes-asyncio", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        return loop

    def _finished(self, token: object, future: Future[CheckResult]) -> None:
        """Called in the helper thread as each check ends."""
        if future.cancelled():
            return  # abandoned by close()
        error = future.exception()
        outcome = (
            future.result()
            if error is None
            else Failure("the check could not finish", _as_exception(error))
        )
        self._done.put((token, outcome))


def async_prober(probe: ProbeFn | Mapping[str, ProbeFn]) -> ProberFactory:
    """The prober factory that runs `probe` for each check (or the one of its scheme)."""

    def factory(context: ProbeContext) -> Prober:
        return AsyncProber(context, probe)

    names = sorted(probe) if isinstance(probe, Mapping) else [getattr(probe, "__qualname__", "")]
    factory.__qualname__ = f"async_prober({', '.join(map(str, names))})"
    return factory


def _as_exception(error: BaseException) -> Exception:
    return error if isinstance(error, Exception) else RuntimeError(repr(error))


# How long close() lets the cancelled checks run their `finally` blocks.
DRAIN_S = 1.0


def _cancel_all_and_stop(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if not tasks:
        loop.stop()
        return

    async def drain() -> None:
        await asyncio.wait(tasks, timeout=DRAIN_S)
        loop.stop()

    loop.create_task(drain())
