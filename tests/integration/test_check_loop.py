"""The monitor's check loop (scheduler + curl multi) in a thread, without Kafka."""

from __future__ import annotations

import threading
from collections import Counter

from tests.support.processes import wait_for
from wac.monitor.loop import CheckLoop
from wac.result import CheckResult
from wac.targets import target_from_url


def test_loop_checks_each_target_replaces_targets_and_stops_abandoning_checks(site: str) -> None:
    results: list[CheckResult] = []
    loop = CheckLoop(results.append, monitor="loop-test", max_in_flight=10)
    fast = [target_from_url(f"{site}/ok?n={i}", interval=0.1, timeout=1) for i in range(5)]
    hanging = target_from_url(f"{site}/hang", interval=0.1, timeout=30)
    loop.set_targets([*fast, hanging])
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        wait_for(
            lambda: all(Counter(r.target for r in results)[t.id] >= 3 for t in fast),
            20,
            "three checks of each target",
        )
        # A check never overlaps the previous one of the same target: /hang stays in flight.
        assert loop.stats.in_flight >= 1
        assert hanging.id not in {r.target for r in results}

        added = target_from_url(f"{site}/ok?added", interval=0.1, timeout=1)
        loop.set_targets([fast[0], added, hanging])
        wait_for(lambda: any(r.target == added.id for r in results), 20, "the added target")
        before = Counter(r.target for r in results)
        wait_for(
            lambda: Counter(r.target for r in results)[added.id] >= before[added.id] + 3,
            20,
            "more checks of the added target",
        )
        after = Counter(r.target for r in results)
        assert all(after[t.id] <= before[t.id] + 1 for t in fast[1:])  # removed: stopped
    finally:
        loop.stop()
        thread.join(10)
    assert not thread.is_alive()  # the hanging check was abandoned, not waited for
    assert all(r.ok for r in results) and {r.monitor for r in results} == {"loop-test"}
    stats = loop.stats
    assert stats.started == stats.finished + stats.in_flight
    assert stats.lateness.count == stats.started
