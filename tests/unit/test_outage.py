"""The outage tracker: two lines per outage, the second with the true duration."""

from __future__ import annotations

import logging
import re
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from wac.runtime.outage import LogLine, OutageTracker, emit


def test_one_line_when_it_starts_one_when_it_ends_with_the_duration() -> None:
    tracker = OutageTracker("PostgreSQL", meanwhile="retrying with backoff")
    start = tracker.down("connection refused", now=100.0)
    assert start == LogLine(
        logging.ERROR, "PostgreSQL unavailable: connection refused; retrying with backoff"
    )
    assert tracker.down("connection refused again", now=101.0) is None
    assert tracker.down_since == 100.0
    end = tracker.up(now=112.34, detail="batch stored at attempt 5")
    assert end == LogLine(
        logging.WARNING, "PostgreSQL is back after 12.3 s; batch stored at attempt 5"
    )
    assert tracker.up(now=113.0) is None
    assert tracker.down_since is None and tracker.outages == 1


def test_an_outage_noticed_late_is_dated_from_when_progress_stopped() -> None:
    tracker = OutageTracker("Kafka")
    start = tracker.down("no broker reachable", now=52.0, since=50.0)
    assert start is not None
    assert start.text == "Kafka unavailable: no broker reachable, no progress for 2.0 s"
    end = tracker.up(now=80.0)
    assert end is not None and end.text == "Kafka is back after 30.0 s"


def test_a_start_in_the_future_counts_from_now() -> None:
    tracker = OutageTracker("Kafka")
    tracker.down("x", now=10.0, since=15.0)
    assert tracker.down_since == 10.0


def test_up_without_an_outage_says_nothing() -> None:
    tracker = OutageTracker("Kafka")
    assert tracker.up(now=1.0) is None
    assert tracker.outages == 0


def test_threads_racing_to_report_one_outage_give_one_line() -> None:
    tracker = OutageTracker("PostgreSQL")
    lines: list[LogLine | None] = []
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        barrier.wait()
        lines.append(tracker.down(f"worker {i}", now=1.0))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(line is not None for line in lines) == 1
    assert tracker.outages == 1


def test_emit_logs_the_line_at_its_level(caplog) -> None:
    logger = logging.getLogger("tests.outage")
    with caplog.at_level(logging.INFO, logger="tests.outage"):
        emit(logger, LogLine(logging.WARNING, "Kafka is back after 1.0 s"))
        emit(logger, None)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "Kafka is back after 1.0 s")
    ]


events = st.lists(
    st.tuples(
        st.sampled_from(["down", "up"]),
        st.floats(min_value=0, max_value=1000, allow_nan=False),  # time since the last event
        st.floats(min_value=0, max_value=100, allow_nan=False),  # how late a down is noticed
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_any_sequence_alternates_start_and_end_lines_with_true_durations(
    sequence: list[tuple[str, float, float]],
) -> None:
    tracker = OutageTracker("Kafka")
    now = 0.0
    started: float | None = None
    for kind, step, late in sequence:
        now += step
        if kind == "down":
            line = tracker.down("reason", now, since=now - late)
            if started is None:
                assert line is not None and line.level == logging.ERROR
                started = now - late
            else:
                assert line is None
        else:
            line = tracker.up(now)
            if started is None:
                assert line is None
            else:
                assert line is not None and line.level == logging.WARNING
                found = re.fullmatch(r"Kafka is back after ([0-9.]+) s", line.text)
                assert found is not None, line.text
                assert abs(float(found[1]) - (now - started)) <= 0.05 + 1e-9 * now
                started = None
        assert tracker.down_since == started
