"""Kafka client health: statistics read, outages told apart from a broker failing over."""

from __future__ import annotations

import json
import logging
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wac.runtime.kafka_health import BrokerNotes, ClientView, StallWatch, read_stats
from wac.runtime.outage import LogLine, OutageTracker


def broker(node: int, state: str, source: str = "learned") -> dict[str, Any]:
    return {
        "name": f"127.0.0.1:{9090 + node}/{node}",
        "nodeid": node,
        "nodename": f"127.0.0.1:{9090 + node}",
        "source": source,
        "state": state,
    }


def partition(
    leader: int, lag: int = 0, fetch_state: str = "active", desired: bool = True
) -> dict[str, Any]:
    return {"leader": leader, "desired": desired, "fetch_state": fetch_state, "consumer_lag": lag}


def consumer_stats(
    brokers: list[dict[str, Any]],
    partitions: dict[str, dict[str, Any]],
    group: tuple[str, str] = ("up", "steady"),
) -> str:
    return json.dumps(
        {
            "type": "consumer",
            "brokers": {b["name"]: b for b in brokers},
            "cgrp": {"state": group[0], "join_state": group[1]},
            "topics": {
                "results": {
                    "partitions": {
                        **partitions,
                        "-1": partition(-1, -1, "none", desired=False),
                    }
                }
            },
        }
    )


def test_a_steady_consumer_with_lag() -> None:
    raw = consumer_stats(
        [broker(1, "UP"), broker(2, "UP"), broker(3, "UP"), broker(-1, "UP", "logical")],
        {"0": partition(1, 5), "1": partition(2, 0), "2": partition(3, -1)},
    )
    assert read_stats(raw) == ClientView(
        reachable=True,
        up=frozenset({"1 at 127.0.0.1:9091", "2 at 127.0.0.1:9092", "3 at 127.0.0.1:9093"}),
        failing=frozenset(),
        ready=True,
        lag=5,
    )


def test_one_broker_down_its_partitions_not_fetchable_the_others_reachable() -> None:
    raw = consumer_stats(
        [broker(1, "UP"), broker(2, "TRY_CONNECT"), broker(3, "UP")],
        {"0": partition(1), "1": partition(2, 7), "2": partition(3)},
    )
    view = read_stats(raw)
    assert view is not None
    assert view.reachable and not view.ready and view.lag == 7
    assert view.failing == {"2 at 127.0.0.1:9092"}


def test_every_broker_down_only_the_bootstrap_left() -> None:
    raw = consumer_stats(
        [broker(-1, "CONNECT", "configured")],
        {"0": partition(-1, 11, "stopped"), "1": partition(-1, 16, "stopped")},
    )
    view = read_stats(raw)
    assert view is not None
    assert not view.reachable and not view.ready and view.lag == 27
    assert view.up == view.failing == frozenset()


def test_a_group_rebalancing_is_not_ready() -> None:
    raw = consumer_stats([broker(1, "UP")], {}, group=("up", "wait-sync"))
    view = read_stats(raw)
    assert view is not None and view.reachable and not view.ready and view.lag is None


def test_a_producer_has_no_group_and_is_ready() -> None:
    raw = json.dumps({"type": "producer", "brokers": {"b": broker(1, "UP")}, "topics": {}})
    view = read_stats(raw)
    assert view is not None and view.reachable and view.ready


def test_garbage_is_no_view() -> None:
    for raw in ("", "not json", "[1, 2]", '{"brokers": {"x": 5}}', "[" * 100_000):
        assert read_stats(raw) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "brokers",
                    "cgrp",
                    "topics",
                    "partitions",
                    "state",
                    "source",
                    "nodeid",
                    "leader",
                    "desired",
                    "fetch_state",
                    "consumer_lag",
                    "join_state",
                    "0",
                    "-1",
                ]
            )
            | st.text(max_size=5),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_document_gives_a_view_or_none_never_an_exception(document: object) -> None:
    view = read_stats(json.dumps(document))
    assert view is None or isinstance(view, ClientView)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_gives_a_view_or_none_never_an_exception(raw: str) -> None:
    view = read_stats(raw)
    assert view is None or isinstance(view, ClientView)


# --------------------------------------------------------------------- StallWatch
def watch() -> StallWatch:
    return StallWatch(OutageTracker("Kafka"), stuck="nothing moves")


def lines(*items: LogLine | None) -> list[str]:
    return [item.text for item in items if item is not None]


def test_every_broker_down_under_load_is_one_outage_dated_from_the_last_ack() -> None:
    w = watch()
    w.observe(0.0, reachable=True, waiting=True)
    w.progress(10.0)  # the last acknowledgement before the brokers die
    w.last_error = "Connect to 127.0.0.1:9091 failed: Connection refused"
    said = lines(
        w.observe(10.3, reachable=False),
        w.observe(11.9),
        w.observe(12.0),  # two seconds without progress, no broker reachable
        w.observe(20.0),
        w.observe(40.0, reachable=True),  # brokers back, nothing moved yet
        w.progress(42.5),
        w.progress(42.6),
    )
    assert said == [
        "Kafka unavailable: no broker reachable (last error: Connect to 127.0.0.1:9091 failed: "
        "Connection refused), no progress for 2.0 s",
        "Kafka is back after 32.5 s",
    ]


def test_a_failover_with_brokers_answering_is_no_outage() -> None:
    w = watch()
    w.progress(10.0)
    said = lines(
        *(w.observe(10.0 + t / 10, reachable=True, waiting=True) for t in range(90)),
        w.progress(19.0),  # nine seconds: a broker's session timeout and an election
    )
    assert said == []
    assert w.tracker.outages == 0


def test_stuck_with_brokers_answering_becomes_an_outage_after_the_longer_limit() -> None:
    w = watch()
    w.observe(0.0, reachable=True, waiting=True)
    w.progress(5.0)
    assert w.observe(24.9) is None
    start = w.observe(25.0)
    assert start is not None and start.level == logging.ERROR
    assert start.text == "Kafka unavailable: nothing moves, no progress for 20.0 s"


def test_an_idle_client_is_dated_from_when_work_began_to_wait() -> None:
    w = watch()
    w.progress(0.0)
    w.observe(100.0, reachable=True, waiting=False)
    assert w.observe(500.0, reachable=False, waiting=True) is None  # a result queued now
    start = w.observe(502.0)
    assert start is not None and start.text.endswith("no progress for 2.0 s")
    end = w.progress(510.0)
    assert end is not None and end.text == "Kafka is back after 10.0 s"


def test_unreachable_with_nothing_waiting_is_no_outage() -> None:
    w = watch()
    assert w.observe(0.0, reachable=False, waiting=False) is None
    assert w.observe(100.0) is None
    assert w.tracker.outages == 0


def test_the_outage_ends_when_nothing_is_left_to_wait_for_and_a_broker_answers() -> None:
    w = watch()
    w.observe(0.0, reachable=False, waiting=True)
    assert w.observe(3.0) is not None
    assert w.observe(10.0, reachable=True) is None  # back, but not ready yet
    end = w.observe(14.0, waiting=False)  # ready, no lag: it could fetch if there were more
    assert end is not None and end.text == "Kafka is back after 14.0 s"


def test_time_spent_waiting_for_the_database_is_not_kafkas() -> None:
    w = watch()
    w.progress(0.0)
    w.observe(0.1, reachable=True, waiting=True)
    w.restart_clock(60.0)  # a minute in PostgreSQL retries, not asking Kafka
    assert w.observe(60.5, reachable=True, waiting=True) is None
    assert w.tracker.outages == 0


def test_a_fatal_error_is_an_outage_at_once() -> None:
    w = watch()
    start = w.fatal("fatal error: producer fenced", 7.0)
    assert start is not None and start.text == "Kafka unavailable: fatal error: producer fenced"


# --------------------------------------------------------------------- BrokerNotes
def view(up: set[str], failing: set[str]) -> ClientView:
    return ClientView(bool(up), frozenset(up), frozenset(failing), True, 0)


def test_a_broker_failing_while_others_serve_is_one_note_and_one_when_it_is_back() -> None:
    notes = BrokerNotes()
    said = [
        notes.update(view({"1", "2", "3"}, set())),
        notes.update(view({"1", "3"}, {"2"})),
        notes.update(view({"1", "3"}, {"2"})),  # still failing: now it is noted
        notes.update(view({"1", "3"}, {"2"})),
        notes.update(view({"1", "3"}, set())),  # gone from the metadata: nothing to say
        notes.update(view({"1", "2", "3"}, set())),
    ]
    assert [[(line.level, line.text.split(";")[0]) for line in lines] for lines in said] == [
        [],
        [],
        [(logging.WARNING, "Kafka broker 2 is unreachable")],
        [],
        [],
        [(logging.INFO, "Kafka broker 2 is reachable again")],
    ]


def test_a_connection_failing_once_is_no_note() -> None:
    notes = BrokerNotes()
    assert notes.update(view({"1", "3"}, {"2"})) == []
    assert notes.update(view({"1", "2", "3"}, set())) == []
    assert notes.update(view({"1", "3"}, {"2"})) == []


def test_every_broker_failing_is_the_outages_business_not_a_note() -> None:
    notes = BrokerNotes()
    assert notes.update(view(set(), {"1", "2", "3"})) == []
