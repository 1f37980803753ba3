"""Check each of a list of targets once, many at a time, without a schedule (`wac check`).

The same probers and the same reactor as the monitor's check loop, driven to the end of
the list instead of by a schedule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from wac.probes.contract import Failure, ProbeContext, Prober
from wac.probes.failure import describe_failure, failed_result
from wac.probes.policy import DEFAULT_POLICY, ProbePolicy
from wac.probes.reactor import EpollReactor
from wac.probes.registry import factory_for
from wac.result import CheckResult
from wac.targets import Target

MAX_WAIT_S = 0.5  # the longest wait between looks at what ended


def run_checks(
    targets: Iterable[Target],
    monitor: str,
    *,
    policy: ProbePolicy = DEFAULT_POLICY,
    max_in_flight: int = 1000,  # as the monitor's default
) -> list[CheckResult]:
    """Check each target once, many at a time; results in the order of `targets`."""
    ordered = list(targets)
    pending = list(range(len(ordered)))
    pending.reverse()
    results: dict[int, CheckResult] = {}
    reactor = EpollReactor()
    context = ProbeContext(
        monitor=monitor, policy=policy, reactor=reactor, max_in_flight=max_in_flight
    )
    probers: dict[object, Prober] = {}
    running = 0

    def failed(index: int, what: str, exc: Exception) -> None:
        target = ordered[index]
        results[index] = failed_result(target, monitor, describe_failure(target, what, exc))

    try:
        while pending or running:
            while pending and running < max_in_flight:
                index = pending.pop()
                try:
                    factory = factory_for(ordered[index].scheme)
                    if factory not in probers:
                        probers[factory] = factory(context)
                    probers[factory].start(ordered[index], index)
                    running += 1
                except Exception as exc:
                    failed(index, "the check could not start", exc)
            if running:
                wait = MAX_WAIT_S
                for prober in probers.values():
                    timeout = prober.timeout()
                    if timeout is not None and timeout < wait:
                        wait = timeout
                reactor.wait(wait)
            for prober in probers.values():
                for token, outcome in prober.collect():
                    index = cast(int, token)
                    running -= 1
                    if isinstance(outcome, Failure):
                        failed(index, outcome.what, outcome.error)
                    else:
                        results[index] = outcome
    finally:
        for prober in probers.values():
            prober.close()
        reactor.close()
    return [results[i] for i in sorted(results)]
