"""The fleet's bookkeeping of its partitions' targets, without Kafka."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wac.monitor.fleet_targets import FleetTargets
from wac.targets import Target, target_from_url
from wac.targets.definition import Definition, decode_definition, encode_definition


def target(n: int | str, interval: float = 10.0) -> Target:
    return target_from_url(f"http://site-{n}.test/", interval=interval, timeout=1.0)


def record(t: Target, *, paused: bool = False) -> tuple[bytes, bytes]:
    return encode_definition(Definition(t, paused=paused))


def tombstone(t: Target) -> tuple[bytes, None]:
    return t.id.encode(), None


def fleet() -> FleetTargets:
    return FleetTargets("targets-topic", decode_definition)


def ids(targets: list[Target]) -> set[str]:
    return {t.id for t in targets}


def test_a_partition_starts_its_targets_only_once_read_to_its_end() -> None:
    a, b, c, d = target("a"), target("b"), target("c"), target("d")
    state = fleet()
    state.assign(3)
    assert state.loading == [3]
    records = [record(a), record(b), record(c), tombstone(b), record(c, paused=True), record(d)]
    for offset, (key, value) in enumerate(records):
        assert not state.record(3, offset, key, value), "a change before the end was reached"
    slower = replace(a, interval=60.0)
    assert not state.record(3, 6, *record(slower))
    started = state.end_reached(3)
    assert started.remove == [] and ids(started.upsert) == {a.id, d.id}
    assert [t.interval for t in started.upsert if t.id == a.id] == [60.0]
    assert state.loading == [] and state.target_count == 2
    assert not state.end_reached(3), "the end is reached once; later EOFs change nothing"


def test_after_the_end_each_record_is_a_change_of_its_own() -> None:
    a, b = target("a"), target("b")
    state = fleet()
    state.assign(0)
    state.record(0, 0, *record(a))
    state.end_reached(0)
    assert ids(state.record(0, 1, *record(b)).upsert) == {b.id}
    changed = replace(b, pattern="ok")
    assert state.record(0, 2, *record(changed)).upsert[0].pattern == "ok"
    assert state.record(0, 3, *record(a, paused=True)).remove == [a.id]
    assert not state.record(0, 4, *record(a, paused=True)), "paused twice: nothing to remove"
    assert ids(state.record(0, 5, *record(a)).upsert) == {a.id}  # resumed
    assert state.record(0, 6, *tombstone(a)).remove == [a.id]
    assert not state.record(0, 7, *tombstone(a)), "deleting an unknown target changes nothing"
    assert state.target_count == 1


def test_revoking_a_partition_removes_its_targets_and_ignores_its_late_records() -> None:
    a, b = target("a"), target("b")
    state = fleet()
    state.assign(1)
    state.assign(2)
    state.record(1, 0, *record(a))
    state.record(2, 0, *record(b))
    state.end_reached(1)
    assert state.revoke(1).remove == [a.id]
    assert state.revoke(2).remove == [], "never loaded: its targets never reached the loop"
    assert not state.record(1, 1, *record(target("late")))
    assert state.assigned == [] and state.target_count == 0
    # Assigned again: read again from the start, as if new.
    state.assign(1)
    state.record(1, 0, *record(a))
    assert ids(state.end_reached(1).upsert) == {a.id}


def test_a_bad_record_is_reported_in_one_clear_line_and_counts_as_no_definition(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a = target("a")
    state = fleet()
    state.assign(4)
    state.record(4, 0, *record(a))
    state.end_reached(4)
    with caplog.at_level(logging.ERROR, logger="wac.monitor.fleet_targets"):
        bad = state.record(4, 1, a.id.encode(), b'{"v": 1, "url": "ftp://x", "paused": 1}')
        assert bad.remove == [a.id] and bad.upsert == [], "the earlier definition is dropped"
        assert not state.record(4, 2, None, b"{}")
        assert not state.record(4, 3, b"\xff\xfe", b"not json")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert all("skipped, not a valid definition" in line for line in lines)
    assert "partition 4 offset 1" in lines[0] and a.id in lines[0]
    assert "paused" in lines[0] or "url" in lines[0]
    assert "key" in lines[1]
    assert all("\n" not in line for line in lines)
    assert "not checked until a valid definition follows" in lines[0]
    assert state.target_count == 0
    # A valid definition afterwards brings the target back.
    assert ids(state.record(4, 4, *record(a)).upsert) == {a.id}


def test_a_decoder_bug_is_skipped_too(caplog: pytest.LogCaptureFixture) -> None:
    def broken(key: bytes | None, value: bytes | None) -> Definition | None:
        raise KeyError("boom")

    state = FleetTargets("targets-topic", broken)
    state.assign(0)
    with caplog.at_level(logging.ERROR, logger="wac.monitor.fleet_targets"):
        assert not state.record(0, 0, b"k", b"v")
        assert not state.end_reached(0)
        assert not state.record(0, 1, b"k", b"v")
    assert caplog.text.count("unexpected KeyError") == 2


def test_read_from_the_start_a_bad_latest_record_leaves_its_target_unchecked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = target("a"), target("b")
    state = fleet()
    state.assign(0)
    state.record(0, 0, *record(a))
    state.record(0, 1, *record(b))
    state.record(0, 2, a.id.encode(), b'{"v": 2, "url": "http://site-a.test/"}')
    with caplog.at_level(logging.ERROR, logger="wac.monitor.fleet_targets"):
        started = state.end_reached(0)
    assert ids(started.upsert) == {b.id}
    assert "partition 0 offset 2" in caplog.text and "v must be 1" in caplog.text


@settings(max_examples=200, deadline=None)
@given(
    key=st.one_of(st.none(), st.binary(max_size=64)),
    value=st.one_of(st.none(), st.binary(max_size=256), st.text(max_size=256).map(str.encode)),
    loaded=st.booleans(),
)
def test_any_record_is_taken_or_skipped_never_raised(
    key: bytes | None, value: bytes | None, loaded: bool
) -> None:
    state = fleet()
    state.assign(0)
    if loaded:
        state.end_reached(0)
    changes = state.record(0, 0, key, value)
    assert state.target_count <= 1
    assert len(changes.upsert) + len(changes.remove) <= 1


def test_while_loading_records_are_decoded_as_they_arrive_and_refusals_told_at_the_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only decoded values are kept until the end (not the records' bytes); a refused
    record is reported at the end, and only if it is its key's latest."""
    a, b = target("a"), target("b")
    decoded: list[bytes | None] = []

    def decode(key: bytes | None, value: bytes | None) -> Definition | None:
        decoded.append(key)
        return decode_definition(key, value)

    state = FleetTargets("targets-topic", decode)
    state.assign(1)
    state.record(1, 0, a.id.encode(), b"not json")  # superseded by the next: never told
    state.record(1, 1, *record(a))
    state.record(1, 2, b.id.encode(), b'{"v": 1}')  # the latest of b: told at the end
    assert decoded == [a.id.encode(), a.id.encode(), b.id.encode()]
    assert all(type(value) is not bytes for _, value in state._partitions[1].latest.values())
    with caplog.at_level(logging.ERROR):
        assert "skipped" not in caplog.text
        started = state.end_reached(1)
    assert ids(started.upsert) == {a.id}
    told = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(told) == 1 and "offset 2" in told[0] and "url" in told[0]
