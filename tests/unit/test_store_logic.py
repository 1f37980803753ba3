"""The store's pure logic: offsets to commit, target status throttle, settings, partitions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.support.store import result
from wac.errors import ConfigError
from wac.store.offsets import OffsetBook
from wac.store.partitions import Partitions, day_of, partition_name
from wac.store.settings import StoreSettings
from wac.store.target_status import TargetStatus, summarize
from wac.store.writer import days_of

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
P0, P1 = ("results", 0), ("results", 1)


# ---------------------------------------------------------------- offsets
def test_only_stored_offsets_of_owned_partitions_are_committed() -> None:
    book = OffsetBook()
    book.assign([P0])
    book.stored({P0: 10, P1: 7})  # P1 is not ours (any more)
    assert book.to_commit() == {P0: 10}
    assert book.to_commit() == {}  # sent already
    book.stored({P0: 25})
    assert book.to_commit() == {P0: 25}


def test_offsets_never_move_backwards() -> None:
    book = OffsetBook()
    book.assign([P0])
    book.stored({P0: 100})
    assert book.to_commit() == {P0: 100}
    book.stored({P0: 40})  # a batch that finished late
    assert book.to_commit() == {}


def test_a_failed_commit_is_sent_again() -> None:
    book = OffsetBook()
    book.assign([P0, P1])
    book.stored({P0: 5, P1: 6})
    sent = book.to_commit()
    book.failed({P0: sent[P0]})
    assert book.pending() == {P0: 5}
    assert book.to_commit() == {P0: 5}


def test_revoked_partitions_are_forgotten() -> None:
    book = OffsetBook()
    book.assign([P0, P1])
    book.stored({P0: 5, P1: 6})
    book.revoke([P0, P1])
    assert book.to_commit() == {} and book.assigned == set()


# ---------------------------------------------------------------- targets
def test_target_status_writes_changes_at_once_and_refreshes_last_seen() -> None:
    status = TargetStatus(refresh_s=60)
    first = [result("a", checked_at=T0 + timedelta(seconds=i)) for i in range(3)]
    (update,) = status.updates(summarize(first))
    assert update.first_seen == T0 and update.latest is first[-1]
    status.committed([update])
    # Same status within the refresh interval: nothing to write.
    assert status.updates(summarize([result("a", checked_at=T0 + timedelta(seconds=30))])) == []
    # A change of status: written at once.
    down = result("a", checked_at=T0 + timedelta(seconds=31), ok=False)
    (update,) = status.updates(summarize([down]))
    assert update.latest is down
    status.committed([update])
    # Unchanged, but last_seen is a refresh interval old: written.
    later = result("a", checked_at=T0 + timedelta(seconds=95), ok=False)
    assert [u.latest for u in status.updates(summarize([later]))] == [later]
    # An older first sighting (replay of old data) is written too.
    older = result("a", checked_at=T0 - timedelta(hours=1), ok=False)
    assert [u.first_seen for u in status.updates(summarize([older]))] == [older.checked_at]


def test_since_is_the_first_check_of_the_batch_when_the_status_held_through_it() -> None:
    status = TargetStatus(refresh_s=60)
    batch = [result("a", checked_at=T0 + timedelta(seconds=i), ok=False) for i in range(3)]
    (update,) = status.updates(summarize(batch))
    assert update.since == update.first_seen == T0  # the run may have begun before


def test_since_is_the_start_of_the_last_run_when_the_status_changed_in_the_batch() -> None:
    at = [T0 + timedelta(seconds=i) for i in range(6)]
    oks = [True, True, False, False, True, True]
    batch = [result("a", checked_at=t, ok=ok) for t, ok in zip(at, oks, strict=True)]
    for order in (batch, batch[::-1], [batch[i] for i in (3, 0, 5, 1, 4, 2)]):
        (update,) = TargetStatus().updates(summarize(order))
        assert (update.first_seen, update.since, update.latest.checked_at) == (at[0], at[4], at[5])
    # Two locations that disagree: the newest check of either wins, and so its run.
    eu = [result("a", checked_at=t, ok=True, monitor="eu") for t in at[::2]]
    us = [result("a", checked_at=t, ok=False, monitor="us") for t in at[1::2]]
    (update,) = TargetStatus().updates(summarize(eu + us))
    assert (update.latest.monitor, update.latest.ok, update.since) == ("us", False, at[5])


def test_a_failure_and_recovery_within_one_batch_is_written_with_its_since() -> None:
    status = TargetStatus(refresh_s=60)
    status.committed(status.updates(summarize([result("a", checked_at=T0)])))
    blip = [
        result("a", checked_at=T0 + timedelta(seconds=1), ok=False),
        result("a", checked_at=T0 + timedelta(seconds=2)),
    ]
    # The same status as written, within the refresh interval: written for its new since.
    (update,) = status.updates(summarize(blip))
    assert update.since == T0 + timedelta(seconds=2)


def test_target_status_reset_forgets_what_was_written() -> None:
    status = TargetStatus(refresh_s=60)
    status.committed(status.updates(summarize([result("a", checked_at=T0)])))
    status.reset()  # a rebalance: another store may have written since
    assert len(status.updates(summarize([result("a", checked_at=T0 + timedelta(seconds=1))]))) == 1


def test_target_updates_are_sorted_by_target() -> None:
    status = TargetStatus(refresh_s=0)
    updates = status.updates(summarize([result(t, checked_at=T0) for t in "cab"]))
    assert [u.target for u in updates] == ["a", "b", "c"]


# ---------------------------------------------------------------- settings
def test_store_settings_defaults_and_overrides() -> None:
    assert StoreSettings.from_env({}) == StoreSettings()
    settings = StoreSettings.from_env(
        {
            "WAC_STORE_BATCH_SIZE": "200",
            "WAC_STORE_BATCH_WAIT": "0.5",
            "WAC_STORE_RETENTION_DAYS": "30",
            "WAC_STORE_MAX_MESSAGE_BYTES": "4096",
            "WAC_STORE_TARGETS_REFRESH": "0",
            "WAC_STORE_STATS_INTERVAL": "10",
        }
    )
    assert settings == StoreSettings(200, 0.5, 30, 4096, 0.0, 10.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WAC_STORE_BATCH_SIZE", "0"),
        ("WAC_STORE_BATCH_SIZE", "many"),
        ("WAC_STORE_BATCH_WAIT", "0"),
        ("WAC_STORE_BATCH_WAIT", "soon"),
        ("WAC_STORE_RETENTION_DAYS", "-1"),
        ("WAC_STORE_MAX_MESSAGE_BYTES", "10"),
        ("WAC_STORE_TARGETS_REFRESH", "nan"),
    ],
)
def test_bad_store_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        StoreSettings.from_env({name: value})


# ---------------------------------------------------------------- partitions
def test_partition_names_and_days() -> None:
    assert partition_name(date(2026, 1, 2)) == "checks_p20260102"
    assert partition_name(date(1, 1, 2)) == "checks_p00010102"
    assert day_of(partition_name(date(1, 1, 2))) == date(1, 1, 2)
    assert day_of("checks_p20260102") == date(2026, 1, 2)
    assert day_of("checks_default") is None


def test_retention_horizon_is_a_day_boundary() -> None:
    assert Partitions(0).horizon(T0) is None
    assert Partitions(30).horizon(T0) == datetime(2026, 10, 29, tzinfo=UTC)


def test_days_of_results_in_utc() -> None:
    late = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)
    assert days_of([]) == set()
    assert days_of([result(checked_at=late)]) == {date(2026, 11, 28)}
    east = late.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))  # 29th local
    assert days_of([result(checked_at=east), result(checked_at=late + timedelta(hours=1))]) == {
        date(2026, 11, 28),
        date(2026, 11, 29),
    }
