"""A service's stop: asked for (a signal, its caller), or forced by a failure of one of
its threads, which the service raises once it has stopped cleanly.

`Stop()` asks (and logs one line, the first time); `fail(exc)` asks and keeps the first
failure for `raise_failure`. `event` is what the service's threads wait on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class Stop:
    def __init__(
        self,
        logger: logging.Logger,
        meanwhile: str,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.event = threading.Event()
        self.failure: BaseException | None = None
        self._log = logger
        self._meanwhile = meanwhile  # what the service does before it stops
        self._on_stop = on_stop  # wakes what waits elsewhere than on `event`

    def __call__(self, signum: int | None = None) -> None:
        if not self.event.is_set():
            self._log.info("stopping: %s", self._meanwhile)
        self.event.set()
        if self._on_stop is not None:
            self._on_stop()

    def fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
        self()

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure
