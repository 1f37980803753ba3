"""`wac monitor --fleet`: the targets of the partitions this monitor is assigned.

The monitors of one location form the consumer group `<KAFKA_GROUP_ID>-monitor-<location>`
on the compacted targets topic; Kafka shares its partitions among them, and gives the
partitions of a monitor that leaves or dies (after the session timeout) to the others.
Each location is a group of its own, so every location checks every target.

- Assignment is cooperative-sticky: a rebalance moves only the partitions that must
  move; the others are never revoked, so their targets keep their rhythm.
- On assignment a partition is read from offset 0 to its end (the committed offsets of
  the group mean nothing here, and none are committed): its current definitions are
  the whole partition, compacted. Its targets start once that end is reached, on the
  wall-clock grid (wac.monitor.scheduler), so a target that moved keeps its slots. Then
  the partition is followed: each new record changes the loop within a fetch.
- While a partition is read to its end, only each key's latest record is kept, decoded
  as it arrives (most definitions made from a model of their shape: about 10 µs each);
  at the end they are handed over, partition by partition.
- On revocation the partition's targets leave the check loop before the callback returns,
  so the next owner, which starts them only after this, never checks one in the same slot.

`FleetFeed.run` is the consumer's thread; the bookkeeping is wac.monitor.fleet_targets.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from wac.monitor.fleet_targets import Changes, FleetTargets
from wac.monitor.gc_pause import GC_PAUSE
from wac.runtime.kafka import client_config, librdkafka_logger
from wac.runtime.rebalance import guarded
from wac.targets import Target
from wac.targets.definition_models import DefinitionDecoder
from wac.targets_topic import TargetsTopicSettings

log = logging.getLogger(__name__)

BATCH = 1000  # records taken from the consumer at once
POLL_S = 0.1  # how long one poll waits for records (stop and loading checks in between)
REVOKE_WAIT_S = 2.0  # how long a revocation waits for the loop to drop the targets
FETCH_WAIT_MS = 100
FETCH_AHEAD_KB = 8192  # a fraction of a second of decoding
MAX_GC_PAUSE_S = 30.0
# While this thread decodes a partition, the check loop waits for the GIL each time it
# wants it back (after epoll, after curl): 5 ms each by default, several times a turn.
SWITCH_INTERVAL_S = 0.001  # loading longer than this lets the collector run again


@dataclass(frozen=True)
class FleetOptions:
    """Where the targets are and how this monitor takes part in the group."""

    targets: TargetsTopicSettings
    location: str
    session_timeout_s: float

    @property
    def group_id(self) -> str:
        return fleet_group_id(self.targets.kafka.group_id, self.location)


def fleet_group_id(group_id: str, location: str) -> str:
    return f"{group_id}-monitor-{location}"


class TargetSink(Protocol):
    """Where the fleet's changes go: the check loop, or a router in front of it."""

    def change_targets(
        self, upsert: Iterable[Target] = (), remove: Iterable[str] = ()
    ) -> threading.Event: ...


class FleetFeed:
    """The group membership: keeps the loop's targets those of the assigned partitions."""

    def __init__(self, options: FleetOptions, loop: TargetSink) -> None:
        self.options = options
        self._loop = loop
        # Definitions of one shape made from a model (wac.targets.definition_models).
        self.decode = DefinitionDecoder(default_timeout=options.targets.check_timeout)
        self.targets = FleetTargets(options.targets.topic, self.decode)
        self._stopping = threading.Event()
        self._gc_paused_at: float | None = None
        self.failure: str | None = None  # why run() ended, when it was not asked to
        self.rebalances = 0

    def stop(self) -> None:
        """Leave the group (the partitions go to the others at once) and end `run`."""
        self._stopping.set()

    def _fail(self, exc: BaseException) -> None:
        """A rebalance callback failed (logged by `guarded`): the monitor stops."""
        self.failure = f"a rebalance failed: {type(exc).__name__}"
        self._stopping.set()

    def run(self) -> None:
        options = self.options
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        session_ms = int(options.session_timeout_s * 1000)
        consumer = Consumer(
            client_config(
                options.targets.kafka,
                **{
                    "group.id": options.group_id,
                    "partition.assignment.strategy": "cooperative-sticky",
                    "session.timeout.ms": session_ms,
                    # Others learn of a dead member at their next heartbeat after its
                    # session expired: a short interval keeps the hand-over quick.
                    "heartbeat.interval.ms": max(100, session_ms // 20),
                    "enable.auto.commit": False,  # what to check is the whole partition
                    "auto.offset.reset": "earliest",
                    "enable.partition.eof": True,  # how the end of a partition is seen
                    # An empty fetch (the end of a partition, nothing new) returns after
                    # this long: it bounds both reading to the end and following changes.
                    "fetch.wait.max.ms": FETCH_WAIT_MS,
                    # librdkafka fetches ahead up to 64 MB by default: as much as the
                    # definitions of 100,000 targets, on top of the targets made of them.
                    "queued.max.messages.kbytes": FETCH_AHEAD_KB,
                    "logger": librdkafka_logger(),
                    "error_cb": self._on_error,
                },
            )
        )
        consumer.subscribe(
            [options.targets.topic],
            on_assign=guarded(self._on_assign, what="fleet: assigning", on_failure=self._fail),
            on_revoke=guarded(self._on_revoke, what="fleet: revoking", on_failure=self._fail),
            on_lost=guarded(self._on_lost, what="fleet: dropping", on_failure=self._fail),
        )
        log.info(
            "fleet: joining group %s on %s (session timeout %g s)",
            options.group_id,
            options.targets.topic,
            options.session_timeout_s,
        )
        try:
            while not self._stopping.is_set():
                self._poll(consumer)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else exc
            self.failure = f"Kafka: {error.str() if isinstance(error, KafkaError) else error}"
            log.error("fleet: %s", self.failure)
        except Exception as exc:
            self.failure = f"unexpected {type(exc).__name__}: {exc}"
            log.exception("fleet: the consumer failed")
        finally:
            try:
                consumer.close()  # revokes (the callback drops the targets), leaves the group
            except (KafkaException, RuntimeError) as exc:
                log.warning("fleet: leaving the group failed: %s", exc)
            self._end_gc_pause()
            log.info("fleet: left group %s", options.group_id)

    def _poll(self, consumer: Consumer) -> None:
        messages = consumer.consume(BATCH, POLL_S)
        changes = Changes()
        for message in messages:
            error = message.error()
            partition = message.partition()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF and partition is not None:
                    # Handed over at once: the first partitions' checks start while the
                    # next ones are decoded.
                    started = self._end_reached(partition)
                    if started:
                        self._loop.change_targets(started.upsert)
                elif error.fatal():
                    raise KafkaException(error)
                else:
                    log.warning("fleet: Kafka: %s", error.str())
                continue
            offset = message.offset()
            assert partition is not None and offset is not None
            changes.extend(self.targets.record(partition, offset, message.key(), message.value()))
        if changes:
            self._loop.change_targets(changes.upsert, changes.remove)
        if self._gc_paused_at is not None and (
            not self.targets.loading or time.monotonic() - self._gc_paused_at > MAX_GC_PAUSE_S
        ):
            self._end_gc_pause()

    def _end_reached(self, partition: int) -> Changes:
        changes = self.targets.end_reached(partition)
        if changes:
            log.info(
                "fleet: partition %d read: %d target(s) to check", partition, len(changes.upsert)
            )
        return changes

    # --- librdkafka's callbacks, run inside consume() in this thread ----------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.rebalances += 1
        if not partitions:
            return
        if self._gc_paused_at is None:
            self._gc_paused_at = time.monotonic()
            GC_PAUSE.acquire()  # a partition's definitions arrive in bulk
        for tp in partitions:
            self.targets.assign(tp.partition)
            tp.offset = OFFSET_BEGINNING
        consumer.incremental_assign(partitions)
        log.info(
            "fleet: assigned partition(s) %s, reading them from the start; now %s",
            [tp.partition for tp in partitions],
            self.targets.assigned,
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._drop(consumer, partitions, "revoked")

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._drop(consumer, partitions, "lost (the session timed out)")

    def _drop(self, consumer: Consumer, partitions: list[TopicPartition], why: str) -> None:
        self.rebalances += 1
        if not partitions:
            return
        changes = Changes()
        for tp in partitions:
            changes.extend(self.targets.revoke(tp.partition))
        if changes and not self._loop.change_targets(remove=changes.remove).wait(REVOKE_WAIT_S):
            log.warning("fleet: the check loop took over %g s to drop targets", REVOKE_WAIT_S)
        consumer.incremental_unassign(partitions)
        log.info(
            "fleet: partition(s) %s %s: %d target(s) no longer checked here; now %s",
            [tp.partition for tp in partitions],
            why,
            len(changes.remove),
            self.targets.assigned,
        )

    def _on_error(self, error: KafkaError) -> None:
        if error.code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN):
            log.debug("fleet: Kafka: %s", error.str())
        else:
            log.warning("fleet: Kafka: %s", error.str())

    def _end_gc_pause(self) -> None:
        if self._gc_paused_at is not None:
            self._gc_paused_at = None
            GC_PAUSE.release()
