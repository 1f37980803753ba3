"""The fleet's changes split as a file's targets are: push:// targets to the heartbeat
watcher, the others to the check loop; a target whose scheme changed leaves the other."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from wac.config import KafkaSettings
from wac.heartbeat.watcher import PushWatcher
from wac.monitor.service import _Routed
from wac.targets import Target, target_from_url
from wac.targets.definition import definition_from_json


@dataclass
class FakeLoop:
    """Records what the check loop is asked (the loop itself is tested elsewhere)."""

    targets: dict[str, Target] = field(default_factory=dict)

    def change_targets(
        self, upsert: Iterable[Target] = (), remove: Iterable[str] = ()
    ) -> threading.Event:
        for target_id in remove:
            self.targets.pop(target_id, None)
        for target in upsert:
            self.targets[target.id] = target
        done = threading.Event()
        done.set()
        return done


def push(name: str) -> Target:
    """A managed push target (its token left to `wac web`)."""
    value = {"v": 1, "url": f"push://{name}", "interval": 60, "token_env": "SOME_TOKEN"}
    return definition_from_json(value).target


def watcher() -> PushWatcher:
    kafka = KafkaSettings("127.0.0.1:9", Path("."), "unused", "c", "g", False, 1)  # not started
    return PushWatcher("postgresql://unused", kafka, "loc-a")


def test_push_targets_go_to_the_watcher_the_rest_to_the_loop() -> None:
    loop, watched = FakeLoop(), watcher()
    routed = _Routed(loop, watched)  # type: ignore[arg-type]
    web = target_from_url("http://127.0.0.1:9/", interval=1.0, timeout=1.0)
    beat = push("nightly")
    assert getattr(beat.probe_options, "token", "") is None
    assert routed.change_targets([web, beat]).is_set()
    assert set(loop.targets) == {web.id} and watched.watched == [beat.id]
    # The same id, now checked: it leaves the watcher; and back again.
    now_checked = target_from_url("http://127.0.0.1:9/x", interval=1.0, timeout=1.0)
    now_checked = replace(now_checked, id=beat.id)
    routed.change_targets([now_checked])
    assert set(loop.targets) == {web.id, beat.id} and watched.watched == []
    routed.change_targets([beat])
    assert set(loop.targets) == {web.id} and watched.watched == [beat.id]
    routed.change_targets(remove=[beat.id, web.id])
    assert loop.targets == {} and watched.watched == []


def test_without_a_watcher_push_targets_are_not_checked_and_said_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = FakeLoop()
    routed = _Routed(loop, None)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="wac.monitor.service"):
        routed.change_targets([push("nightly")])
    assert loop.targets == {}
    assert "push:// target(s) not watched" in caplog.text
