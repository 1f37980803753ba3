"""Signals, one way for every service: SIGTERM and SIGINT stop, SIGHUP reloads.

`Signals` is a context manager. Inside it SIGTERM and SIGINT set `stop` and call
`on_stop`; SIGHUP sets `reload` and calls `on_reload` when the service reloads (given
`on_reload`, or `reloads=True` for a service that polls the flag), and stops it when
`hangup_stops` (a process whose terminal went away); otherwise SIGHUP keeps its
handler. On exit the handlers that were there before come back.

The handler itself only puts the signal's number in a `queue.SimpleQueue` (whose `put`
is reentrant, made for this) and a thread of the context does the rest. Python runs a
signal handler in the main thread between two bytecodes, possibly while that thread
holds the lock of the very `threading.Event` the handler would set, or of a logging
handler: done there, that would deadlock; done in another thread, it waits its turn.

Outside the main thread (a service run in a test's thread) nothing is installed: the
caller's own stop still works.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Signals:
    def __init__(
        self,
        on_stop: Callable[[int], None] | None = None,
        on_reload: Callable[[int], None] | None = None,
        *,
        reloads: bool = False,
        hangup_stops: bool = False,
    ) -> None:
        self.stop = threading.Event()
        self.reload = threading.Event()
        self._on_stop = on_stop
        self._on_reload = on_reload
        self._reloads = reloads or on_reload is not None
        self._hangup_stops = hangup_stops
        self._previous: dict[int, Any] = {}
        self._received: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._dispatcher: threading.Thread | None = None

    def __enter__(self) -> Signals:
        if threading.current_thread() is not threading.main_thread():
            log.debug("not the main thread: signal handlers left as they are")
            return self
        self._dispatcher = threading.Thread(target=self._serve, name="signals", daemon=True)
        self._dispatcher.start()
        handled = list(STOP_SIGNALS)
        if self._reloads or self._hangup_stops:
            handled.append(signal.SIGHUP)
        for signum in handled:
            self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
        if self._dispatcher is not None:
            self._received.put(None)
            self._dispatcher.join(5.0)
            self._dispatcher = None

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self._received.put_nowait(signum)

    def _serve(self) -> None:
        while (signum := self._received.get()) is not None:
            try:
                self.dispatch(signum)
            except Exception:  # the next signal must still be served
                log.exception("handling signal %d failed", signum)

    def dispatch(self, signum: int) -> None:
        """What a signal does: the flag, then the callback (in the context's thread)."""
        if signum == signal.SIGHUP and not self._hangup_stops:
            self.reload.set()
            if self._on_reload is not None:
                self._on_reload(signum)
            return
        self.stop.set()
        if self._on_stop is not None:
            self._on_stop(signum)
