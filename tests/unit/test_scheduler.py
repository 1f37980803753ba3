"""The schedule as pure logic, on a fake clock: spread, no overlap, limits, reload, lateness."""

from __future__ import annotations

import itertools

import pytest

from wac.monitor.histogram import Histogram, bucket_of, bucket_upper_ms
from wac.monitor.scheduler import ADDED, CHANGED, UNCHANGED, Scheduler, Slot, stable_fraction
from wac.targets import target_from_url


def target(n: int | str, interval: float = 10.0, timeout: float = 1.0):
    return target_from_url(f"http://site-{n}.test/", interval=interval, timeout=timeout)


def run_until(
    scheduler: Scheduler, end: float, *, duration: float = 0.0, step: float = 0.001
) -> list[tuple[float, str]]:
    """Start and finish checks on a fake clock; each check takes `duration` seconds."""
    starts: list[tuple[float, str]] = []
    running: list[tuple[float, Slot]] = []
    now = 0.0
    while now <= end:
        for done_at, slot in [r for r in running if r[0] <= now]:
            scheduler.finished(slot, now)
            running.remove((done_at, slot))
        for slot in scheduler.take_due(now):
            starts.append((now, slot.target.id))
            running.append((now + duration, slot))
        now = round(now + step, 6)
    return starts


def test_each_target_on_its_own_interval() -> None:
    fast, slow = target("fast", interval=1.0), target("slow", interval=5.0)
    scheduler = Scheduler(epoch=0.0)
    scheduler.set_targets([fast, slow], now=0.0)
    starts = run_until(scheduler, 20.0)
    fast_times = [t for t, i in starts if i == fast.id]
    slow_times = [t for t, i in starts if i == slow.id]
    assert len(fast_times) in (20, 21) and len(slow_times) in (4, 5)
    gaps = [b - a for a, b in itertools.pairwise(fast_times)]
    assert all(gap == pytest.approx(1.0, abs=0.002) for gap in gaps)
    assert fast_times[0] == pytest.approx(stable_fraction(fast.id) * 1.0, abs=0.002)


def test_targets_sharing_an_interval_are_spread_over_it() -> None:
    targets = [target(i, interval=10.0) for i in range(1000)]
    scheduler = Scheduler(epoch=0.0)
    scheduler.set_targets(targets, now=0.0)
    starts = run_until(scheduler, 10.0, step=0.01)
    assert len({i for _, i in starts}) == 1000
    per_second = [sum(1 for t, _ in starts if s <= t < s + 1) for s in range(10)]
    assert all(60 <= n <= 140 for n in per_second), per_second  # about 100 each, no burst


def test_offsets_are_stable_across_processes() -> None:
    # crc32 of the id: the same in every process and run (unlike hash()).
    assert stable_fraction("GET https://example.com/") == stable_fraction(
        "GET https://example.com/"
    )
    assert 0 <= stable_fraction("x") < 1


def test_a_check_never_overlaps_the_previous_one_and_overruns_skip_slots() -> None:
    t = target("slow", interval=1.0)
    scheduler = Scheduler(epoch=0.0)
    scheduler.set_targets([t], now=0.0)
    starts = run_until(scheduler, 10.0, duration=1.5)
    times = [s for s, _ in starts]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Each check takes 1.5 s; the next one waits for it and lands on the grid (every 2 s).
    assert all(gap == pytest.approx(2.0, abs=0.002) for gap in gaps)
    assert scheduler.stats.skipped == len(gaps)


def test_in_flight_limit_and_lateness() -> None:
    targets = [target(i, interval=100.0) for i in range(10)]
    scheduler = Scheduler(epoch=0.0, max_in_flight=3)
    scheduler.set_targets(targets, now=0.0)
    first = scheduler.take_due(200.0)  # all ten overdue: only three may start
    first_dues = [s.due for s in first]
    assert len(first) == 3 and scheduler.held_back  # seven due checks wait for room
    assert scheduler.take_due(200.0) == []
    assert scheduler.next_due() is None  # nothing may start until one ends
    scheduler.finished(first[0], 200.5)
    assert scheduler.next_due() is not None
    second = scheduler.take_due(200.5)
    assert len(second) == 1
    # Earliest due first, and lateness = start minus due.
    dues = sorted(stable_fraction(t.id) * 100.0 for t in targets)
    assert first_dues == pytest.approx(dues[:3])
    assert scheduler.stats.started == 4 and scheduler.stats.in_flight == 3
    assert scheduler.stats.lateness.count == 4
    assert scheduler.stats.lateness.max_ms == pytest.approx((200.0 - dues[0]) * 1000)


def test_reload_keeps_rhythm_of_unchanged_targets() -> None:
    keep, change, drop = target("keep", 1.0), target("change", 1.0), target("drop", 1.0)
    scheduler = Scheduler(epoch=0.0)
    scheduler.set_targets([keep, change, drop], now=0.0)
    run_until(scheduler, 3.0)
    keep_slot = scheduler._slots[keep.id]
    keep_due = keep_slot.due
    new_change = target_from_url(change.url, interval=4.0, timeout=2.0)
    added_target = target("new", 1.0)
    counts = scheduler.set_targets([keep, new_change, added_target], now=3.0)
    assert counts == (1, 1, 1)
    assert scheduler._slots[keep.id] is keep_slot and keep_slot.due == keep_due
    assert {t.id for t in scheduler.targets} == {keep.id, change.id, added_target.id}
    assert scheduler._slots[change.id].target.timeout == 2.0
    # The changed interval moves the target onto its new grid; removed ones never run.
    starts = []
    now = 3.0
    while now < 12.0:
        for slot in scheduler.take_due(now):
            starts.append((now, slot.target.id))
            scheduler.finished(slot, now)
        now = round(now + 0.001, 6)
    assert drop.id not in {i for _, i in starts}
    change_times = [t for t, i in starts if i == change.id]
    assert [b - a for a, b in itertools.pairwise(change_times)] == (
        pytest.approx([4.0] * (len(change_times) - 1), abs=0.002)
    )
    new_times = [t for t, i in starts if i == added_target.id]
    assert new_times[0] == pytest.approx(
        3.0 + (stable_fraction(added_target.id) - 3.0) % 1.0, abs=0.002
    )


def test_target_removed_while_in_flight_is_not_rescheduled_nor_doubled() -> None:
    t = target("x", 1.0)
    scheduler = Scheduler(epoch=0.0)
    scheduler.set_targets([t], now=0.0)
    (slot,) = scheduler.take_due(1.0)
    scheduler.set_targets([], now=1.1)
    assert scheduler.take_due(5.0) == []
    # Re-added while its last check still runs: it waits for that check to end.
    scheduler.set_targets([t], now=1.2)
    assert scheduler.take_due(5.0) == []
    scheduler.finished(slot, 5.0)
    assert scheduler.stats.in_flight == 0
    assert [s.target.id for s in scheduler.take_due(6.0)] == [t.id]


def test_a_target_handed_to_another_scheduler_keeps_its_slots() -> None:
    """Two monitors (two schedulers, each with its own clock origin on the same wall-clock
    grid): the first stops a target, the second takes it; together they check it on the
    same slots, never twice in one, with only the slots of the hand-over missing."""
    t = target("moving", 1.0)
    first = Scheduler(epoch=0.0)
    assert first.upsert(t, now=0.0) == ADDED
    starts = [at for at, _ in run_until(first, 4.3)]
    assert first.remove(t.id) and not first.remove(t.id) and len(first) == 0
    second = Scheduler(epoch=-100.0)  # its clock reads 100 s more for the same moment
    assert second.upsert(t, now=104.7) == ADDED
    assert second.upsert(t, now=104.7) == UNCHANGED
    starts += [at - 100.0 for at, _ in run_until_from(second, 104.7, 108.0)]
    offset = stable_fraction(t.id)
    slots = [round(at - offset) for at in starts]
    assert slots == sorted(set(slots)), "a slot checked twice"
    assert all(at - offset == pytest.approx(round(at - offset), abs=0.002) for at in starts)
    assert set(range(5)) - {4} <= set(slots) and {5, 6, 7} <= set(slots)


def test_upsert_changed_and_remove_count_targets() -> None:
    scheduler = Scheduler(epoch=0.0)
    a, b = target("a", 2.0), target("b", 2.0)
    assert [scheduler.upsert(x, now=0.0) for x in (a, b)] == [ADDED, ADDED]
    slower = target_from_url(a.url, interval=2.0, timeout=3.0)
    assert scheduler.upsert(slower, now=0.0) == CHANGED
    assert scheduler.stats.targets == 2
    assert scheduler.remove(b.id) and scheduler.stats.targets == 1
    assert [x.timeout for x in scheduler.targets] == [3.0]


def test_due_rate_follows_added_changed_and_removed_targets() -> None:
    """The checks per second the targets ask for (the sum of 1/interval), which the loop's
    limit on checks in flight is sized with."""
    scheduler = Scheduler(epoch=0.0)
    a, b = target("a", 2.0), target("b", 0.5)
    scheduler.set_targets([a, b], now=0.0)
    assert scheduler.due_rate == pytest.approx(0.5 + 2.0)
    scheduler.upsert(target("a", 4.0), now=0.0)
    assert scheduler.due_rate == pytest.approx(0.25 + 2.0)
    scheduler.upsert(target_from_url(b.url, interval=0.5, timeout=0.2), now=0.0)
    assert scheduler.due_rate == pytest.approx(0.25 + 2.0)  # same interval
    (slot,) = [s for s in scheduler.take_due(10.0) if s.target.id == b.id]
    scheduler.remove(b.id)
    assert scheduler.due_rate == pytest.approx(0.25)
    scheduler.upsert(target("b", 1.0), now=10.1)  # back while its check still runs
    assert scheduler.due_rate == pytest.approx(0.25 + 1.0)
    scheduler.finished(slot, 10.2)
    scheduler.set_targets([], now=11.0)
    assert scheduler.due_rate == pytest.approx(0.0)
    assert not scheduler.held_back


def run_until_from(scheduler: Scheduler, start: float, end: float) -> list[tuple[float, str]]:
    starts: list[tuple[float, str]] = []
    now = start
    while now <= end:
        for slot in scheduler.take_due(now):
            starts.append((now, slot.target.id))
            scheduler.finished(slot, now)
        now = round(now + 0.001, 6)
    return starts


def test_histogram_percentiles_and_merge() -> None:
    h = Histogram()
    for ms in range(1, 101):  # 1..100 ms
        h.record(ms / 1000)
    assert h.percentile_ms(0.5) == 51.0  # bucket [50, 51) holds the 50th value... upper bound
    assert h.percentile_ms(0.99) == 100.0
    other = Histogram()
    other.record(5.0)  # 5 s
    h.merge(other)
    assert h.count == 101 and h.percentile_ms(1.0) == 5100.0
    assert Histogram.from_dict(h.to_dict()).counts == h.counts
    assert bucket_of(-3) == 0 and bucket_upper_ms(bucket_of(99.5)) == 100.0
    assert Histogram().percentile_ms(0.99) is None
