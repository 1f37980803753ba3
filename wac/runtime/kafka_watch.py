"""librdkafka's error and statistics callbacks of one client, turned into the service's log.

`KafkaWatch` is what a service hands its consumer or producer as `error_cb` and
`stats_cb` (`callbacks()`): it condenses the statistics (`read_stats`), keeps the
outage state (`StallWatch` over an `OutageTracker`: one line when progress stops, one
when it resumes) and the notes about single brokers failing over (`BrokerNotes`). The
service tells it about progress (`progress`: results fetched or acknowledged), about
waiting (`observe`), and about time it spent elsewhere (`restart_clock`).

Fatal errors do not come this way (see `wac.runtime.kafka_fatal`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError

from wac.runtime.kafka_health import (
    STATS_INTERVAL_MS,
    BrokerNotes,
    ClientView,
    StallWatch,
    read_stats,
)
from wac.runtime.outage import LogLine, OutageTracker, emit

# A consumer waits when its group has not settled or results wait in its partitions.
CONSUMER_STUCK = "results waiting in the assigned partitions, none fetched"
PRODUCER_STUCK = "results waiting and none acknowledged"


def consumer_waiting(view: ClientView) -> bool:
    return not view.ready or (view.lag or 0) > 0


class KafkaWatch:
    """The health of one Kafka client as its service logs it.

    `waiting(view)` says from each statistics snapshot whether the client has work it
    cannot do (None: the service tells it through `observe` instead); `on_view` sees
    each snapshot (lag for the service's counters); `on_outage` is called once per
    outage, when it starts.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        meanwhile: str,
        stuck: str,
        waiting: Callable[[ClientView], bool] | None = None,
        on_view: Callable[[ClientView], None] | None = None,
        on_outage: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = logger
        self.outage = OutageTracker("Kafka", meanwhile=meanwhile)
        self._watch = StallWatch(self.outage, stuck=stuck)
        self._notes = BrokerNotes()
        self._waiting = waiting
        self._on_view = on_view
        self._on_outage = on_outage
        self._clock = clock

    def callbacks(self) -> dict[str, Any]:
        """The client configuration that routes librdkafka's reports here."""
        return {
            "error_cb": self.on_error,
            "stats_cb": self.on_stats,
            "statistics.interval.ms": STATS_INTERVAL_MS,
        }

    # ------------------------------------------------------------------ from the service
    def progress(self) -> None:
        """Results moved (fetched, acknowledged): an outage, if any, ends."""
        self._emit(self._watch.progress(self._clock()))

    def observe(self, *, waiting: bool) -> None:
        """Whether the client has work waiting now (for a service that counts it)."""
        self._emit(self._watch.observe(self._clock(), waiting=waiting))

    def restart_clock(self) -> None:
        """The client was busy elsewhere until now (its database), not asking Kafka."""
        self._watch.restart_clock(self._clock())

    # ------------------------------------------------------------------ from librdkafka
    def on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._emit(self._watch.observe(self._clock(), reachable=False))
        else:
            self._watch.last_error = error.str()
            self.log.debug("Kafka: %s", error.str())

    def on_stats(self, raw: str) -> None:
        view = read_stats(raw)
        if view is None:
            return
        if self._on_view is not None:
            self._on_view(view)
        for line in self._notes.update(view):
            emit(self.log, line)
        waiting = self._waiting(view) if self._waiting is not None else None
        self._emit(self._watch.observe(self._clock(), reachable=view.reachable, waiting=waiting))

    def _emit(self, line: LogLine | None) -> None:
        if line is None:
            return
        emit(self.log, line)
        if self._on_outage is not None and self.outage.down_since is not None:
            self._on_outage()
