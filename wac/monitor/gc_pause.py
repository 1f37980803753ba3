"""Holding Python's cyclic garbage collector off while many targets arrive at once.

A full collection scans every object the collector tracks, with the GIL held. A monitor
that holds 100,000 targets tracks about a million objects: one such scan takes 100 to
400 ms, and the check loop stands still meanwhile. Loading targets in bulk (the fleet
reading a partition, the loop applying a batch of changes) allocates enough to trigger
several of them. So bulk work runs inside `GC_PAUSE`: automatic collection is off while
anyone holds it, and when the last holder lets go, `gc.freeze()` moves every object then
alive to the permanent generation, which later collections skip. The targets are long
lived; reference counting still frees the ones removed later (they form no cycles). The
price: cyclic garbage made during a pause is never collected, a few objects per bulk load.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class GcPause:
    """Counted: collection resumes (after a freeze) when every holder has released it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._was_enabled = True
        self.freezes = 0

    def acquire(self) -> None:
        with self._lock:
            if self._holders == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._holders += 1

    def release(self) -> None:
        with self._lock:
            if self._holders == 0:
                raise RuntimeError("GcPause released more often than acquired")
            self._holders -= 1
            if self._holders == 0:
                gc.freeze()
                self.freezes += 1
                if self._was_enabled:
                    gc.enable()

    @contextmanager
    def held(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


GC_PAUSE = GcPause()
