"""Pure logic of reports: window splitting, percentiles from the histogram, parsing."""

from __future__ import annotations

import bisect
import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wac.errors import ConfigError
from wac.reports.aggregate import percentile, percentiles
from wac.reports.window import Piece, parse_duration, parse_time, plan_window, resolve_window
from wac.rollups.job import minute_runs
from wac.rollups.tiers import HIST_COLUMNS, RESPONSE_TIME_BOUNDS_MS, ceil_to, floor_to

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
UNITS = {
    "minute": timedelta(minutes=1),
    "minute10": timedelta(minutes=10),
    "hour": timedelta(hours=1),
    "hour6": timedelta(hours=6),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
}


def assert_exact_cover(
    pieces: list[Piece], start: datetime, end: datetime, watermark: datetime | None = None
) -> None:
    """The pieces meet end to end over [start, end); a tier's piece is whole buckets, or
    the one bucket that holds the watermark, up to the watermark."""
    assert pieces[0].start == start and pieces[-1].end == end
    for a, b in itertools.pairwise(pieces):
        assert a.end == b.start, pieces
    for p in pieces:
        assert p.start < p.end
        if p.source != "raw":
            unit = UNITS[p.source]
            assert floor_to(p.start, unit) == p.start
            if p.end == watermark and floor_to(p.end, unit) != p.end:
                assert p.start == floor_to(watermark, unit), p
            else:
                assert floor_to(p.end, unit) == p.end, p


def test_a_year_is_mostly_weeks_with_finer_edges_and_a_raw_tail() -> None:
    start = T - timedelta(days=365, seconds=17)
    watermark = T - timedelta(minutes=3)
    pieces = plan_window(start, T, watermark)
    assert_exact_cover(pieces, start, T, watermark)
    sources = [p.source for p in pieces]
    assert sources[0] == "raw" and sources[-1] == "raw"  # sub-minute edge, tail
    assert pieces[-1].start == watermark
    assert sources.count("week") == 2  # whole weeks, then the week of the watermark
    weeks = next(p for p in pieces if p.source == "week")
    assert weeks.end - weeks.start >= timedelta(days=365 - 14)
    # The end: one piece, the row of the week that holds the watermark, up to it.
    assert pieces[-2] == Piece("week", floor_to(watermark, timedelta(days=7)), watermark)
    # Whole days only at the start: fewer than a week of them.
    days = [p for p in pieces if p.source == "day"]
    assert sum((p.end - p.start for p in days), timedelta(0)) < timedelta(days=7)
    # Weeks start where 7-day series bins start: Thursdays, counted from the epoch.
    assert weeks.start.weekday() == 3 and weeks.start.time() == datetime.min.time()


def test_a_window_limited_to_days_reads_no_weeks() -> None:
    start, watermark = T - timedelta(days=60), T - timedelta(minutes=3)
    pieces = plan_window(start, T, watermark, coarsest="day")
    assert_exact_cover(pieces, start, T, watermark)
    assert "week" not in {p.source for p in pieces}
    assert pieces[-2] == Piece("day", floor_to(watermark, timedelta(days=1)), watermark)


@pytest.mark.parametrize(
    ("since", "last"),
    [
        # The watermark's week starts inside the window: its row.
        (timedelta(days=10), "week"),
        # It starts before the window; its day does not: the day's row.
        (timedelta(hours=20), "day"),
        # The day starts before too: the row of the watermark's 6 hours (from 12:00).
        (timedelta(hours=2, minutes=30), "hour6"),
        # ... of its hour (from 13:00).
        (timedelta(hours=1, minutes=30), "hour"),
        # ... of its 10 minutes (from 13:50).
        (timedelta(minutes=30), "minute10"),
        # Only minutes are inside: they are read as they are.
        (timedelta(minutes=5), "minute"),
    ],
)
def test_the_end_is_one_row_of_the_coarsest_bucket_inside_the_window(
    since: timedelta, last: str
) -> None:
    watermark = T + timedelta(hours=1, minutes=57)  # a Tuesday, 13:57
    now = watermark + timedelta(minutes=2, seconds=30)
    pieces = plan_window(now - since, now, watermark)
    assert_exact_cover(pieces, now - since, now, watermark)
    assert pieces[-1] == Piece("raw", watermark, now)
    if last == "minute":
        assert pieces[-2] == Piece("minute", ceil_to(now - since, UNITS[last]), watermark)
    else:
        assert pieces[-2] == Piece(last, floor_to(watermark, UNITS[last]), watermark)


def test_a_window_ending_before_the_watermark_reads_whole_buckets_only() -> None:
    watermark = T + timedelta(minutes=57)
    end = watermark - timedelta(minutes=3)
    pieces = plan_window(T - timedelta(days=20), end, watermark)
    assert_exact_cover(pieces, T - timedelta(days=20), end)
    assert pieces[-2:] == [
        Piece("minute10", floor_to(end, timedelta(hours=1)), T + timedelta(minutes=50)),
        Piece("minute", T + timedelta(minutes=50), end),
    ]


def test_the_start_edge_reads_few_rows_of_each_tier() -> None:
    """From 07:23:30: a raw edge, minutes to 07:30, 10 minutes to 08:00, hours to 12:00,
    6 hours to the next day; at most 9, 5, 5 and 3 rows a target."""
    start = T - timedelta(days=3, hours=4, minutes=36, seconds=30)
    watermark = T + timedelta(minutes=57)
    pieces = plan_window(start, T, watermark)
    assert_exact_cover(pieces, start, T, watermark)
    day = floor_to(start, timedelta(days=1))
    assert pieces[:5] == [
        Piece("raw", start, start + timedelta(seconds=30)),
        Piece("minute", day + timedelta(hours=7, minutes=24), day + timedelta(hours=7, minutes=30)),
        Piece("minute10", day + timedelta(hours=7, minutes=30), day + timedelta(hours=8)),
        Piece("hour", day + timedelta(hours=8), day + timedelta(hours=12)),
        Piece("hour6", day + timedelta(hours=12), day + timedelta(days=1)),
    ]


@pytest.mark.parametrize("seed", range(40))
def test_random_windows_are_covered_exactly(seed: int) -> None:
    rnd = random.Random(seed)
    start = T - timedelta(seconds=rnd.randint(1, 90 * 86400))
    end = start + timedelta(seconds=rnd.randint(1, 40 * 86400))
    watermark = floor_to(T - timedelta(seconds=rnd.randint(0, 50 * 86400)), UNITS["minute"])
    coarsest = rnd.choice(list(UNITS))
    pieces = plan_window(start, end, watermark, coarsest=coarsest)
    assert_exact_cover(pieces, start, end, watermark)
    for p in pieces:
        if p.source != "raw":
            assert p.end <= watermark
            assert UNITS[p.source] <= UNITS[coarsest]
        elif p.start >= watermark:
            assert p.end == end


def test_no_watermark_reads_raw_rows_only() -> None:
    assert plan_window(T - timedelta(days=2), T, None) == [Piece("raw", T - timedelta(days=2), T)]


def test_before_the_minute_horizon_the_start_rounds_to_the_hour() -> None:
    start = T - timedelta(days=100, minutes=20)
    pieces = plan_window(start, T, T, minute_horizon=T - timedelta(days=35))
    assert pieces[0].source == "hour6"  # no minutes nor 10 minutes: pruned there
    assert pieces[0].start == T - timedelta(days=100)  # 11:40 rounds to 12:00


def test_percentile_of_a_constant_series_is_exact() -> None:
    hist = [0] * len(HIST_COLUMNS)
    hist[bisect.bisect_right(RESPONSE_TIME_BOUNDS_MS, 100.0)] = 50
    assert percentile(hist, 0.5, 100.0, 100.0) == 100.0
    assert percentile(hist, 0.99, 100.0, 100.0) == 100.0


def test_percentile_estimates_fall_in_the_bucket_of_the_exact_value() -> None:
    rnd = random.Random(7)
    values = sorted(rnd.lognormvariate(4.5, 0.8) for _ in range(5000))
    hist = [0] * len(HIST_COLUMNS)
    for v in values:
        hist[bisect.bisect_right(RESPONSE_TIME_BOUNDS_MS, v)] += 1
    for q in (0.5, 0.95, 0.99):
        exact = values[int(q * len(values)) - 1]
        estimate = percentile(hist, q, values[0], values[-1])
        assert estimate is not None
        assert abs(estimate - exact) / exact < 0.27, (q, exact, estimate)


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([0] * len(HIST_COLUMNS), 0.5) is None


@settings(max_examples=300, deadline=None)
@given(
    hist=st.lists(st.integers(0, 5) | st.integers(0, 10**9), min_size=52, max_size=52),
    qs=st.lists(st.floats(0.001, 1.0), min_size=1, max_size=5).map(sorted),
    rt_min=st.none() | st.floats(0, 1e5),
    rt_max=st.none() | st.floats(0, 1e5),
)
def test_percentiles_in_one_pass_are_each_percentile(
    hist: list[int], qs: list[float], rt_min: float | None, rt_max: float | None
) -> None:
    expected = [walked_percentile(hist, q, rt_min, rt_max) for q in qs]
    assert percentiles(hist, qs, rt_min, rt_max) == expected
    assert [percentile(hist, q, rt_min, rt_max) for q in qs] == expected


def walked_percentile(
    hist: list[int], q: float, rt_min: float | None, rt_max: float | None
) -> float | None:
    """The estimate as first written: the buckets walked until the rank is reached."""
    n = sum(hist)
    if n == 0:
        return None
    rank, seen = q * n, 0
    for i, count in enumerate(hist):
        if count and seen + count >= rank:
            lo = RESPONSE_TIME_BOUNDS_MS[i - 1] if i > 0 else 0.0
            if i < len(RESPONSE_TIME_BOUNDS_MS):
                hi = RESPONSE_TIME_BOUNDS_MS[i]
            else:
                hi = rt_max if rt_max is not None else lo
            lo = lo if rt_min is None else max(lo, rt_min)
            hi = max(hi if rt_max is None else min(hi, rt_max), lo)
            return lo + (hi - lo) * (rank - seen) / count
        seen += count
    return rt_max


def test_durations_and_times() -> None:
    assert parse_duration("365d") == timedelta(days=365)
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("2w") == timedelta(days=14)
    for bad in ("", "5", "-1h", "1y", "0h"):
        with pytest.raises(ConfigError):
            parse_duration(bad)
    assert parse_time("2026-01-31", "--from") == datetime(2026, 1, 31, tzinfo=UTC)
    assert parse_time("2026-01-31T12:00:00+02:00", "--to") == datetime(2026, 1, 31, 10, tzinfo=UTC)
    with pytest.raises(ConfigError, match="--from"):
        parse_time("yesterday", "--from")
    with pytest.raises(ConfigError, match="not both"):
        resolve_window("24h", "2026-01-01", None, T)
    with pytest.raises(ConfigError, match="not before"):
        resolve_window(None, "2026-01-02", "2026-01-01", T)
    assert resolve_window(None, "2026-03-01", None, T) == (datetime(2026, 3, 1, tzinfo=UTC), T)


def test_minute_runs_groups_consecutive_minutes() -> None:
    m = UNITS["minute"]
    minutes = [T, T + m, T + 2 * m, T + 5 * m]
    assert minute_runs(minutes) == [(T, T + 3 * m), (T + 5 * m, T + 6 * m)]
