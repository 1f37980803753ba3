"""How long another thread waits for the GIL: a thread that sleeps 1 ms in a loop and
notes each gap between its wake-ups (for the reload's tests and its bench)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def thread_gaps() -> Iterator[list[float]]:
    """The gaps (seconds) of a ticking thread while the block runs, sorted at its end."""
    gaps: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        last = time.monotonic()
        while not stop.is_set():
            time.sleep(0.001)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        yield gaps
    finally:
        stop.set()
        ticker.join()
        gaps.sort()
