"""How many checks a monitor process runs at once: what its targets need, within the maximum.

By Little's law the checks in flight are the rate they start at times how long each
takes: 10,000 targets every minute that answer in 300 ms keep about 50 in flight, 4,000
targets every second that answer in 200 ms about 800. The configured maximum
(`--max-in-flight`, 1,000 by default) must allow for slow sites, but running that many
when the targets do not need them costs CPU: against a fast local server a check cost
about 30 % more CPU with 1,000 in flight than with 100 (more sockets in the kernel's
tables and libcurl's, larger epoll batches, colder caches), so a process that could
not keep up checked fewer targets per second with the higher limit.

`InFlightLimit` sizes the limit every `PERIOD_S` from what the loop observed:
- Little's law from the targets: the rate their checks are due at (the sum of
  1/interval) times the fastest response time of the period, with `HEADROOM`. Every
  response time also holds the time the check waited for this process, and a loop
  that cannot keep up would raise its own limit on it (more in flight, longer turns,
  longer response times), so the product counts only when the fastest response is at
  least `INTRINSIC` times the loop's average turn: then it is the servers' time, not
  the loop's. Targets that all answer in 200 ms get their concurrency from this alone,
  however busy the machine;
- nothing was held back by the limit: the number in flight observed is the Little's
  law product itself, so the limit follows it with `HEADROOM`, shrinking gradually
  (`SHRINK`) so that a lull does not cut it at once;
- due checks were held back and the loop spent at least `IDLE_TO_GROW` of the period
  waiting in epoll: the checks in flight wait on their servers, not on this process
  (slow or timing-out sites among fast ones, which the fastest response time does not
  show), so more at once means more done: the limit grows by `GROW` (from 50 to 1,000
  in under a second);
- due checks were held back and the loop was busy (under `BUSY` of the period waiting):
  this process is the bottleneck and more checks in flight would only cost more CPU per
  check, so the limit shrinks gradually to what keeps it busy.
The limit never goes below `FLOOR` nor above the configured maximum.
"""

from __future__ import annotations

import math

FLOOR = 50
PERIOD_S = 0.1
HEADROOM = 3.0
GROW = 1.5
SHRINK = 0.9
IDLE_TO_GROW = 0.2
BUSY = 0.05
INTRINSIC = 4.0


class InFlightLimit:
    """The limit on checks in flight, fed from the loop's thread: `fastest_ms` per check
    (lowered by the loop when a check answers faster), `turn` once per loop turn."""

    __slots__ = (
        "_held",
        "_idle_s",
        "_peak",
        "_period_start",
        "_turns",
        "fastest_ms",
        "floor",
        "maximum",
        "value",
    )

    def __init__(self, maximum: int, now: float, *, floor: int = FLOOR) -> None:
        if maximum < 1:
            raise ValueError("the maximum of checks in flight must be at least 1")
        self.maximum = maximum
        self.floor = min(floor, maximum)
        self.value = self.floor
        self.fastest_ms = math.inf  # the fastest response time of the period
        self._period_start = now
        self._idle_s = 0.0
        self._held = False
        self._peak = 0
        self._turns = 0

    def turn(self, now: float, idle_s: float, held: bool, in_flight: int, due_rate: float) -> int:
        """One turn of the loop: `idle_s` seconds blocked waiting for a descriptor, due
        checks `held` back by the limit or not, `in_flight` checks running, `due_rate`
        checks per second the targets ask for. Returns the limit."""
        self._idle_s += idle_s
        self._turns += 1
        if held:
            self._held = True
        if in_flight > self._peak:
            self._peak = in_flight
        elapsed = now - self._period_start
        if elapsed < PERIOD_S:
            return self.value
        value = self.value
        fastest_ms = self.fastest_ms
        turn_s = (elapsed - self._idle_s) / self._turns  # the loop's own time per turn
        little = 0
        if fastest_ms != math.inf and fastest_ms / 1000 >= INTRINSIC * turn_s:
            little = math.ceil(due_rate * fastest_ms / 1000 * HEADROOM)
        if not self._held:
            value = max(math.ceil(self._peak * HEADROOM), int(value * SHRINK))
        else:
            idle_share = self._idle_s / elapsed
            if idle_share >= IDLE_TO_GROW:
                value = math.ceil(value * GROW)
            elif idle_share < BUSY:
                value = int(value * SHRINK)
        self.value = max(self.floor, min(self.maximum, max(value, little)))
        self.fastest_ms = math.inf
        self._period_start = now
        self._idle_s = 0.0
        self._held = False
        self._peak = 0
        self._turns = 0
        return self.value
