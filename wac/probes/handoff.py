"""Finished checks handed from helper threads back to the check loop.

`put` (from any thread) queues an item and wakes the loop; `take` (from the loop's
thread) returns what has arrived, without waiting. The pattern matcher and the
probers that run their checks off the loop (`AsyncProber`) hand their results back
this way.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Handoff(Generic[T]):
    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._items: queue.SimpleQueue[T] = queue.SimpleQueue()

    def put(self, item: T) -> None:
        self._items.put(item)
        self._wake()

    def take(self) -> list[T]:
        taken: list[T] = []
        while True:
            try:
                taken.append(self._items.get_nowait())
            except queue.Empty:
                return taken
