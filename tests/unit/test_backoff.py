"""Retry with backoff: doubling from `first`, capped, jittered below, cut short by an event."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as s

from wac.runtime.backoff import Backoff, delay


def test_the_schedule_doubles_from_first_up_to_the_cap() -> None:
    assert [delay(n, first=0.5, cap=5.0) for n in range(1, 7)] == [0.5, 1, 2, 4, 5, 5]
    assert delay(10_000, first=1.0, cap=300.0) == 300.0  # no overflow, however many


def test_without_randomness_the_waits_are_the_schedule_and_reset_starts_over() -> None:
    backoff = Backoff(first=1.0, cap=4.0, jitter=0.5, rand=lambda: 0.0)
    assert [backoff.next_delay() for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    assert backoff.attempts == 4
    backoff.reset()
    assert backoff.next_delay() == 1.0


@settings(max_examples=200, deadline=None)
@given(
    first=s.floats(0.01, 10),
    cap=s.floats(0.01, 100),
    jitter=s.floats(0, 0.99),
    draws=s.lists(s.floats(0, 1, exclude_max=True), min_size=1, max_size=30),
)
def test_jitter_only_shortens_a_wait_and_never_past_its_share(
    first: float, cap: float, jitter: float, draws: list[float]
) -> None:
    values = iter(draws)
    backoff = Backoff(first=first, cap=cap, jitter=jitter, rand=lambda: next(values))
    for attempt in range(1, len(draws) + 1):
        plain = delay(attempt, first=first, cap=cap)
        wait = backoff.next_delay()
        assert plain * (1 - jitter) - 1e-9 <= wait <= plain <= cap


def test_a_wait_ends_as_soon_as_the_event_is_set() -> None:
    stop = threading.Event()
    backoff = Backoff(first=30.0, cap=30.0)
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    assert backoff.wait(stop) is True
    assert time.monotonic() - started < 5
    assert Backoff(first=0.01, cap=0.01).wait(threading.Event()) is False


def test_a_jitter_that_is_not_a_share_is_refused() -> None:
    with pytest.raises(ValueError, match="share"):
        Backoff(jitter=1.0)
