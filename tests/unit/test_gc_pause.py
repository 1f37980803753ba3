"""Holding the garbage collector off during bulk loads: counted, then frozen."""

from __future__ import annotations

import gc

import pytest

from wac.monitor.gc_pause import GcPause


def test_collection_resumes_when_the_last_holder_lets_go_after_a_freeze() -> None:
    assert gc.isenabled()
    pause = GcPause()
    frozen_before = gc.get_freeze_count()
    try:
        pause.acquire()
        with pause.held():
            assert not gc.isenabled()
            kept = [object() for _ in range(100)] + [[i] for i in range(1000)]
        assert not gc.isenabled(), "one holder is left"
        pause.release()
        assert gc.isenabled()
        assert pause.freezes == 1
        assert gc.get_freeze_count() >= frozen_before + 1000, "the lists made meanwhile"
        assert kept
    finally:
        gc.unfreeze()
        gc.enable()


def test_releasing_more_often_than_acquired_is_a_bug_said_loudly() -> None:
    pause = GcPause()
    with pytest.raises(RuntimeError, match="more often"):
        pause.release()
    assert gc.isenabled()
