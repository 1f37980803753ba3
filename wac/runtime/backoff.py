"""Retry with backoff: the one schedule every retry loop of wac waits by.

`delay(attempt)` is the plain schedule: `first` seconds after the first failure,
doubling after each, never more than `cap`. `Backoff` walks it for one retry loop,
with jitter (a random share of each wait taken off, so that services that failed
together do not all retry at the same instant), and waits on an event that a stop (or
any other reason to look again at once) sets: a waiting loop is never what holds up a
shutdown.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

FIRST_S = 0.5
CAP_S = 30.0
JITTER = 0.2  # up to this share of each wait is taken off at random


def delay(attempt: int, *, first: float = FIRST_S, cap: float = CAP_S) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, ...), without jitter."""
    exponent = min(max(0, attempt - 1), 64)  # 2**64 s is past any cap already
    return min(cap, first * 2.0**exponent)


class Backoff:
    """The waits of one retry loop; `reset` after a success.

    `wait(event)` sleeps the next delay, or less when `event` is set meanwhile, and says
    whether it was: the caller's stop (or wake-up) event.
    """

    def __init__(
        self,
        *,
        first: float = FIRST_S,
        cap: float = CAP_S,
        jitter: float = JITTER,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not 0.0 <= jitter < 1.0:
            raise ValueError("jitter is a share of the wait, from 0 up to (not including) 1")
        self.first = first
        self.cap = cap
        self.jitter = jitter
        self._rand = rand
        self.attempts = 0  # failures since the last success

    def next_delay(self) -> float:
        """The wait after one more failure."""
        self.attempts += 1
        plain = delay(self.attempts, first=self.first, cap=self.cap)
        return plain * (1.0 - self.jitter * self._rand())

    def wait(self, event: threading.Event) -> bool:
        """Wait the next delay unless `event` is set first; True when it was set."""
        return event.wait(self.next_delay())

    def reset(self) -> None:
        self.attempts = 0
