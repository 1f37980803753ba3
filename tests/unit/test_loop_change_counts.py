"""The check loop's "targets: N added, N removed, N changed" lines count every change,
also those another thread queues right after a line was written (the fleet's consumer
queues its records while the loop applies the previous ones)."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from wac.monitor.loop import CheckLoop
from wac.targets import target_from_url


def test_changes_queued_just_after_a_line_are_counted_in_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = CheckLoop(lambda result: None, monitor="counts-test", max_in_flight=10)
    base = target_from_url("http://127.0.0.1:9/ok", interval=86400.0, timeout=1.0)
    first = [dataclasses.replace(base, id=f"t{i}") for i in range(3)]
    later = [dataclasses.replace(t, timeout=2.0) for t in first]
    log_changes = loop._log_changes

    def then_another_thread_queues() -> None:  # at the worst moment: right after a line
        log_changes()
        if later:
            loop.change_targets(later.copy())
            later.clear()

    loop._log_changes = then_another_thread_queues  # type: ignore[method-assign]
    loop.change_targets(first)
    with caplog.at_level(logging.INFO, logger="wac.monitor.loop"):
        loop._apply_changes()
        loop._apply_changes()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("targets:")]
    assert lines == [
        "targets: 3 added, 0 removed, 0 changed, 3 in all",
        "targets: 0 added, 0 removed, 3 changed, 3 in all",
    ]
