"""Is a Kafka client making progress? Outages told apart from a broker failing over.

A Kafka client is in an outage when it cannot make progress: a producer holds results
that no broker acknowledges, a consumer has results to read (or no working assignment)
and fetches none. One broker dying in a replicated cluster is not that: its partitions
get new leaders within seconds and the client goes on, so it is only a note about that
broker (`BrokerNotes`).

`read_stats` condenses librdkafka's statistics (the JSON of `stats_cb`) into a
`ClientView`; `StallWatch` turns views and progress into the two lines of an
`OutageTracker`. Neither does I/O nor reads a clock.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from wac.runtime.outage import LogLine, OutageTracker

# librdkafka statistics every second: how soon the end of an outage is seen when there
# is nothing to move (a consumer with no lag).
STATS_INTERVAL_MS = 1000
# No progress for this long with every broker unreachable: an outage.
UNREACHABLE_AFTER_S = 2.0
# No progress for this long while brokers answer: an outage too (leaderless partitions,
# too few replicas in sync, a group that cannot settle). Longer than a broker's session
# timeout (9 s by default) plus a leader election, so a failover is not one.
STUCK_AFTER_S = 20.0

# Broker states that mean connecting failed and is being retried (INIT is an idle broker).
_FAILING = frozenset({"DOWN", "TRY_CONNECT", "CONNECT"})


@dataclass(frozen=True)
class ClientView:
    """What one statistics snapshot says about the client's chances to make progress."""

    reachable: bool  # at least one connection to a broker is up
    up: frozenset[str]  # learned brokers ("2 at host:port") with a connection up
    failing: frozenset[str]  # learned brokers the client fails to connect to
    ready: bool  # consumer: group settled, every assigned partition fetchable
    lag: int | None  # consumer: results behind in the assigned partitions (None: unknown)


def read_stats(raw: str) -> ClientView | None:
    """The view of a `stats_cb` document; None when it is not one."""
    try:
        stats = json.loads(raw)
        brokers = stats.get("brokers", {}).values()
        up: set[str] = set()
        failing: set[str] = set()
        up_ids: set[int] = set()
        reachable = False
        for broker in brokers:
            state = broker.get("state")
            reachable = reachable or state == "UP"
            if broker.get("source") != "learned":
                continue
            name = f"{broker.get('nodeid')} at {broker.get('nodename')}"
            if state == "UP":
                up.add(name)
                up_ids.add(broker.get("nodeid"))
            elif state in _FAILING:
                failing.add(name)
        group = stats.get("cgrp")
        ready = group is None or (
            group.get("state") == "up" and group.get("join_state") == "steady"
        )
        lag = 0
        known = False
        for topic in stats.get("topics", {}).values():
            for number, partition in topic.get("partitions", {}).items():
                if number == "-1" or not partition.get("desired"):
                    continue
                ready = ready and (
                    partition.get("fetch_state") == "active" and partition.get("leader") in up_ids
                )
                if partition.get("consumer_lag", -1) >= 0:
                    lag += partition["consumer_lag"]
                    known = True
    except (ValueError, AttributeError, TypeError, KeyError, RecursionError):
        return None
    return ClientView(reachable, frozenset(up), frozenset(failing), ready, lag if known else None)


class StallWatch:
    """Decides when a Kafka client cannot make progress, and for how long it could not.

    The client reports `progress` (a result acknowledged or fetched) and what it sees
    (`observe`: brokers reachable, work waiting). Work waiting with no progress for
    `unreachable_after` s while no broker is reachable, or for `stuck_after` s while some
    are, starts an outage dated from the last progress (or from when work began to wait,
    if later). Progress ends it; so does nothing left to wait for with a broker reachable.
    """

    def __init__(
        self,
        tracker: OutageTracker,
        *,
        stuck: str,
        unreachable_after: float = UNREACHABLE_AFTER_S,
        stuck_after: float = STUCK_AFTER_S,
    ) -> None:
        self.tracker = tracker
        self.stuck = stuck  # the reason given when brokers answer but nothing moves
        self.unreachable_after = unreachable_after
        self.stuck_after = stuck_after
        self.reachable = True
        self.waiting = False
        self.last_error: str | None = None  # librdkafka's latest complaint, for the reason
        self._last_progress: float | None = None
        self._blocked_since: float | None = None

    def progress(self, now: float) -> LogLine | None:
        self._last_progress = now
        self.reachable = True
        self.last_error = None
        return self.tracker.up(now)

    def restart_clock(self, now: float) -> None:
        """The client was busy elsewhere (waiting for its database) until now, not asking
        Kafka for anything: the time without progress counts from now."""
        self._last_progress = now

    def observe(
        self, now: float, *, reachable: bool | None = None, waiting: bool | None = None
    ) -> LogLine | None:
        """What the client sees now (None: unchanged); returns a line to log, if any."""
        if reachable is not None:
            self.reachable = reachable
        if waiting is not None:
            self.waiting = waiting
        if not self.waiting:
            self._blocked_since = None
            return self.tracker.up(now) if self.reachable else None
        if self._blocked_since is None:
            self._blocked_since = now
        since = self._blocked_since
        if self._last_progress is not None:
            since = max(since, self._last_progress)
        limit = self.stuck_after if self.reachable else self.unreachable_after
        if now - since < limit:
            return None
        reason = self.stuck if self.reachable else "no broker reachable"
        if self.last_error:
            reason += f" (last error: {self.last_error})"
        return self.tracker.down(reason, now, since=since)

    def fatal(self, reason: str, now: float) -> LogLine | None:
        """An error the client cannot recover from: an outage from now on."""
        return self.tracker.down(reason, now)


class BrokerNotes:
    """One line when a broker becomes unreachable while others serve, one when it is back.

    Not an outage: in a replicated cluster the others take over its partitions. A broker
    counts as unreachable when two snapshots in a row see connecting to it fail (a
    connection the broker closed for being idle is reopened at once, or not needed).
    """

    def __init__(self) -> None:
        self._noted: set[str] = set()
        self._failing: frozenset[str] = frozenset()

    def update(self, view: ClientView) -> list[LogLine]:
        lines = []
        failing, self._failing = view.failing & self._failing, view.failing
        if view.up:
            for name in sorted(failing - self._noted):
                self._noted.add(name)
                lines.append(
                    LogLine(
                        logging.WARNING,
                        f"Kafka broker {name} is unreachable; the other brokers serve its "
                        "partitions (an outage is logged only if results stop moving)",
                    )
                )
        for name in sorted(self._noted & view.up):
            self._noted.discard(name)
            lines.append(LogLine(logging.INFO, f"Kafka broker {name} is reachable again"))
        return lines
