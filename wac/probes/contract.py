"""The probe contract: what every protocol's prober offers the check loop.

The check loop (`wac.monitor.loop`) names no protocol. For each target it asks the
registry (`wac.probes.registry`) for the prober of the target URL's scheme, and drives
every prober through the same four calls, all from the loop's own thread:

- `start(target, token)`: begin one check. `token` is the loop's bookkeeping for that
  check, handed back with its outcome. Raising means the check could not start: the
  loop turns it into a result of kind `other` (and says why once per target).
- `timeout()`: seconds until the prober must be called again even if none of its
  descriptors becomes ready (a protocol timer); None when it has none.
- `collect()`: do what is ready without blocking and give back the checks that ended,
  as `(token, outcome)` pairs: a `CheckResult`, or a `Failure` when finishing the check
  raised (the loop turns that into a result of kind `other` too).
- `close()`: abandon the checks in flight and free everything.

Between those calls the loop waits in one place, its `Reactor` (`wac.probes.reactor`):
an epoll object plus an eventfd. A prober gets it in its `ProbeContext` and either
watches its own descriptors there (`watch`/`unwatch`, with a handler the loop calls when
one is ready: the HTTP prober hands libcurl's sockets to it, so HTTP checks cost no
more than a bare curl multi loop), or runs its checks elsewhere (a thread, an asyncio
loop in a helper thread) and calls `wake()` when one ends, which makes the loop's wait
return and `collect()` pick the result up (`wac.probes.offloop.AsyncProber` does that
for any `ProbeFn`).

A `ProbeFn` is the small form of the contract, after blackbox_exporter's probe
functions: one coroutine that checks one target and returns its result. Protocols
whose checks are a few awaits (TCP, TLS, DNS, ICMP) are written as one, and registered
with `registry.register_probe_fn`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from wac.probes.policy import ProbePolicy
from wac.result import CheckResult
from wac.targets import Target

# A handler the reactor calls with (fd, epoll event mask) when a watched descriptor is ready.
ReadyHandler = Callable[[int, int], None]


class Reactor(Protocol):
    """The check loop's one wait, lent to every prober (see `wac.probes.reactor`)."""

    def watch(self, fd: int, events: int, handler: ReadyHandler) -> None:
        """Watch `fd` for `events` (select.EPOLLIN/EPOLLOUT); `handler` runs when ready."""

    def unwatch(self, fd: int) -> None:
        """Stop watching `fd` (it may be closed already)."""

    def wake(self) -> None:
        """Make the loop's wait return now; safe from any thread."""


@dataclass(frozen=True)
class ProbeContext:
    """What a prober is made with: shared by every prober of one loop."""

    monitor: str  # the `monitor` field of every result
    policy: ProbePolicy  # which CAs to trust, which addresses to refuse
    reactor: Reactor
    max_in_flight: int  # checks the loop runs at once, at most (a prober may pool this many)


@dataclass(frozen=True, slots=True)
class Failure:
    """A check whose end raised: `what` was being done, `error` what was raised."""

    what: str
    error: Exception


Outcome = CheckResult | Failure
Completion = tuple[object, Outcome]  # (the token given to `start`, how the check ended)


class Prober(Protocol):
    """One protocol's checks, driven by the check loop (see the module's docstring)."""

    def start(self, target: Target, token: object) -> None: ...

    def timeout(self) -> float | None: ...

    def collect(self) -> list[Completion]: ...

    def close(self) -> None: ...


ProberFactory = Callable[[ProbeContext], Prober]

# blackbox_exporter's ProbeFn, as a coroutine: check `target` once, return its result.
ProbeFn = Callable[[Target, ProbeContext], Coroutine[Any, Any, CheckResult]]
