"""The limit on checks in flight as pure logic: fed turn by turn on a fake clock."""

from __future__ import annotations

import pytest

from wac.monitor.in_flight import FLOOR, PERIOD_S, InFlightLimit


def periods(
    limit: InFlightLimit,
    count: int,
    *,
    idle_share: float,
    held: bool,
    in_flight: int | None = None,
    due_rate: float = 0.0,
    fastest_ms: float | None = None,
    turns: int = 10,
    start: float = 0.0,
) -> tuple[list[int], float]:
    """`count` periods of `turns` turns each; the limit after each period, and the time."""
    values = []
    now = start
    step = PERIOD_S / turns
    for _ in range(count):
        for _ in range(turns):
            now += step
            if fastest_ms is not None:
                limit.fastest_ms = min(limit.fastest_ms, fastest_ms)
            running = limit.value if in_flight is None else in_flight
            value = limit.turn(now + 1e-9, step * idle_share, held, running, due_rate)
        values.append(value)
    return values, now


def test_starts_at_the_floor_and_never_leaves_the_configured_bounds() -> None:
    assert InFlightLimit(1000, 0.0).value == FLOOR
    small = InFlightLimit(10, 0.0)
    assert small.value == 10  # a maximum under the floor is the limit
    assert periods(small, 20, idle_share=0.9, held=True)[0][-1] == 10
    with pytest.raises(ValueError):
        InFlightLimit(0, 0.0)


def test_checks_held_back_while_the_loop_waits_on_servers_grow_it_quickly() -> None:
    limit = InFlightLimit(1000, 0.0)
    values, _ = periods(limit, 10, idle_share=0.5, held=True)
    assert values == sorted(values) and values[-1] == 1000
    assert values.index(1000) <= 8  # from 50 to 1,000 in under a second


def test_a_busy_loop_holding_checks_back_shrinks_it_to_the_floor() -> None:
    limit = InFlightLimit(1000, 0.0)
    _, now = periods(limit, 10, idle_share=0.5, held=True)
    values, _ = periods(limit, 40, idle_share=0.0, held=True, start=now)
    assert values == sorted(values, reverse=True) and values[-1] == FLOOR
    assert values[0] >= 900  # gradually


def test_between_busy_and_idle_it_holds() -> None:
    limit = InFlightLimit(1000, 0.0)
    _, now = periods(limit, 3, idle_share=0.5, held=True)
    before = limit.value
    values, _ = periods(limit, 5, idle_share=0.1, held=True, start=now)
    assert values == [before] * 5


def test_unheld_it_follows_the_checks_observed_in_flight_with_headroom() -> None:
    limit = InFlightLimit(1000, 0.0)
    values, now = periods(limit, 3, idle_share=0.9, held=False, in_flight=300)
    assert values == [900] * 3  # three times the 300 in flight observed
    values, _ = periods(limit, 30, idle_share=0.9, held=False, in_flight=10, start=now)
    assert values[0] == 810 and values[-1] == FLOOR  # a lull lowers it gradually


def test_targets_slow_to_answer_get_their_concurrency_however_busy_the_loop() -> None:
    """4,000 targets every second answering in 200 ms need 800 in flight: Little's law
    sizes the limit even when the loop never waits in epoll (a busy machine)."""
    limit = InFlightLimit(3000, 0.0)
    values, _ = periods(limit, 2, idle_share=0.0, held=True, due_rate=4000.0, fastest_ms=200.0)
    assert values == [2400, 2400]


def test_response_times_of_the_loops_own_making_do_not_raise_it() -> None:
    """A loop that cannot keep up makes every response wait a few of its turns: that
    response time is the loop's, and the limit shrinks instead of following it."""
    limit = InFlightLimit(1000, 0.0)
    turn_ms = PERIOD_S / 10 * 1000
    values, _ = periods(
        limit, 40, idle_share=0.0, held=True, due_rate=20_000.0, fastest_ms=2 * turn_ms
    )
    assert values[-1] == FLOOR
