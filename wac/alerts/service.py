"""`wac alert`: results topic → per-target state machines → incidents, events, notifications.

Per batch of results, in one PostgreSQL transaction: the changed target states, the
incidents opened or closed, the outbox rows (notifications and events) and the next
offset of each partition. Only then is the Kafka offset committed (for lag tools;
the database copy is what a restart resumes from). A crash anywhere loses nothing and
repeats nothing: the restarted consumer loads the states of its partitions and seeks
to the offsets of the same transaction, and the outbox rows are delivered by the
delivery workers (wac/alerts/outbox.py) exactly once per receiver, give or take a
repeat with the same idempotency key after a crash in mid-delivery.

Time-driven work (reminders, the end of a maintenance window) is planned by a tick
of the same loop, also in a transaction.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import FrameType
from typing import TypeVar

import msgspec
import psycopg
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from wac.alerts import metrics
from wac.alerts import state as st
from wac.alerts.config import AlertConfig
from wac.alerts.db import EVENTS_CHANNEL, AlertDB, OutboxRow
from wac.alerts.maintenance import in_maintenance
from wac.alerts.messages import (
    CertificateInfo,
    Event,
    EventType,
    IncidentInfo,
    Notification,
    certificate_key,
    encoder,
    key_id,
    notification_key,
    render_text,
)
from wac.alerts.outbox import Deliverer, EventSink
from wac.config import KafkaSettings, redact_url
from wac.db.connect import connect, connect_at_start
from wac.db.migrate import migrate
from wac.errors import first_line
from wac.result import BadMessage, CheckResult, read_result
from wac.runtime.dead_letters import Rejected
from wac.runtime.kafka import client_config, connect_check, ensure_topic, librdkafka_logger
from wac.runtime.kafka_health import STATS_INTERVAL_MS, BrokerNotes, StallWatch, read_stats
from wac.runtime.outage import OutageTracker, emit

log = logging.getLogger(__name__)

APPLICATION_NAME = "wac-alert"  # how its connection shows in pg_stat_activity

BATCH_SIZE = 1000
BATCH_WAIT_S = 0.2
TICK_S = 0.25
MAX_BACKOFF_S = 30.0

_T = TypeVar("_T")


@dataclass(frozen=True)
class AlertSettings:
    kafka: KafkaSettings
    postgres_url: str
    group_id: str
    events_topic: str
    instance_id: str | None = None
    # A larger message is skipped, as the store rejects it (WAC_STORE_MAX_MESSAGE_BYTES).
    max_message_bytes: int = 65536


class AlertService:
    def __init__(
        self,
        settings: AlertSettings,
        config: AlertConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.config = config
        self.clock = clock
        self.topic = settings.kafka.topic
        self.stopping = threading.Event()
        self.states: dict[str, st.TargetState] = {}
        self.partition_of: dict[str, int] = {}
        self.assigned: set[int] = set()
        self._db: AlertDB | None = None
        self._deliverer: Deliverer | None = None
        # target -> (state JSON, partition) before the running transaction touched it;
        # None for a target the transaction brought into memory.
        self._undo: dict[str, tuple[bytes, int] | None] = {}
        # One line when an outage starts, one when it ends, whichever thread sees it.
        self.db_outage = OutageTracker("PostgreSQL", meanwhile="retrying with backoff")
        self.kafka_outage = OutageTracker(
            "Kafka", meanwhile="waiting for it; nothing is lost, results are read when it is back"
        )
        # Served by the consuming thread (librdkafka's callbacks run in `consume`).
        self._kafka_watch = StallWatch(
            self.kafka_outage, stuck="results waiting in the assigned partitions, none fetched"
        )
        self._broker_notes = BrokerNotes()

    # --- life cycle ---------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d: finishing the current batch, then stopping", signum)
            self.stopping.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self) -> None:
        s = self.settings
        # The store's application name, as before the connections had one home.
        conn = connect_at_start(s.postgres_url, application_name=APPLICATION_NAME)
        migrate(conn)
        self._db = AlertDB(conn, s.group_id)
        connect_check(s.kafka)
        ensure_topic(s.kafka)
        ensure_topic(replace(s.kafka, topic=s.events_topic))
        self._deliverer = Deliverer(
            s.postgres_url,
            s.group_id,
            self.config.notifiers,
            EventSink(s.kafka, s.events_topic),
            self.config.delivery,
            db_outage=self.db_outage,
        )
        for notifier in self.config.notifiers.values():
            log.info("notifier %s: %s", notifier.name, notifier.describe())
        self._deliverer.start()
        extra: dict[str, object] = {
            "group.id": s.group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "session.timeout.ms": 10000,
            "logger": librdkafka_logger(),
            "statistics.interval.ms": STATS_INTERVAL_MS,
            "stats_cb": self._on_kafka_stats,
            "error_cb": self._on_kafka_error,
        }
        if s.instance_id:
            extra["group.instance.id"] = s.instance_id
        consumer = Consumer(client_config(s.kafka, **extra))
        consumer.subscribe(
            [self.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        log.info(
            "alert consuming %s on %s as group %s; events to %s; incidents in %s",
            self.topic,
            s.kafka.endpoint,
            s.group_id,
            s.events_topic,
            redact_url(s.postgres_url),
        )
        next_tick = 0.0
        try:
            while not self.stopping.is_set():
                messages = consumer.consume(BATCH_SIZE, BATCH_WAIT_S)
                batch = [m for m in messages if not self._is_error(m)]
                if batch:
                    emit(log, self._kafka_watch.progress(time.monotonic()))
                    self._until_done(functools.partial(self._process, batch))
                    with contextlib.suppress(KafkaException):
                        consumer.commit(offsets=_next_offsets(batch), asynchronous=True)
                if time.monotonic() >= next_tick:
                    self._until_done(self._tick)
                    next_tick = time.monotonic() + TICK_S
        finally:
            with contextlib.suppress(KafkaException, RuntimeError):
                consumer.close()
            self._deliverer.stop()
            with contextlib.suppress(psycopg.Error):
                self._db.conn.close()
            log.info("alert stopped")

    @property
    def db(self) -> AlertDB:
        assert self._db is not None
        return self._db

    def _is_error(self, message: Message) -> bool:
        error = message.error()
        if error is None:
            return False
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("Kafka: %s", error.str())
        return True

    # --- Kafka health -------------------------------------------------------------------
    def _on_kafka_error(self, error: KafkaError) -> None:
        now = time.monotonic()
        if error.fatal():
            emit(log, self._kafka_watch.fatal(error.str(), now))
        elif error.code() == KafkaError._ALL_BROKERS_DOWN:
            emit(log, self._kafka_watch.observe(now, reachable=False))
        else:
            self._kafka_watch.last_error = error.str()

    def _on_kafka_stats(self, raw: str) -> None:
        view = read_stats(raw)
        if view is None:
            return
        for line in self._broker_notes.update(view):
            emit(log, line)
        waiting = not view.ready or (view.lag or 0) > 0
        emit(
            log,
            self._kafka_watch.observe(time.monotonic(), reachable=view.reachable, waiting=waiting),
        )

    # --- partitions ------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        numbers = [tp.partition for tp in partitions]
        loaded, offsets = self._until_done(
            lambda: (
                self.db.load_states(self.topic, numbers),
                self.db.load_offsets(self.topic, numbers),
            )
        )
        fresh = [tp for tp in partitions if tp.partition not in offsets]
        start_at = self._lookback_offsets(consumer, fresh)
        for tp in partitions:
            tp.offset = offsets.get(tp.partition, start_at.get(tp.partition, OFFSET_BEGINNING))
        for target, (partition, target_state) in loaded.items():
            self.states[target] = target_state
            self.partition_of[target] = partition
        self.assigned.update(numbers)
        consumer.assign(partitions)
        log.info(
            "assigned partitions %s: %d target states loaded, resuming at %s",
            numbers,
            len(loaded),
            {tp.partition: tp.offset for tp in partitions},
        )

    def _lookback_offsets(
        self, consumer: Consumer, partitions: list[TopicPartition]
    ) -> dict[int, int]:
        """Where a partition this group never read starts: `start_lookback` ago."""
        if not partitions:
            return {}
        since_ms = int((time.time() - self.config.start_lookback) * 1000)
        try:
            # The end as of before the time query: a partition with nothing newer than
            # `since` starts there, and nothing produced after the query is skipped.
            ends = {
                tp.partition: consumer.get_watermark_offsets(
                    TopicPartition(self.topic, tp.partition), timeout=10, cached=False
                )[1]
                for tp in partitions
            }
            query = [TopicPartition(self.topic, tp.partition, since_ms) for tp in partitions]
            found = consumer.offsets_for_times(query, timeout=10)
        except KafkaException as exc:
            log.warning("cannot look offsets up by time (%s); reading from the start", exc)
            return {}
        return {tp.partition: tp.offset if tp.offset >= 0 else ends[tp.partition] for tp in found}

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        gone = {tp.partition for tp in partitions}
        for target in [t for t, p in self.partition_of.items() if p in gone]:
            self.states.pop(target, None)
            self.partition_of.pop(target, None)
        self.assigned -= gone
        log.info("partitions %s revoked", sorted(gone))

    # --- one batch -----------------------------------------------------------------------
    def _until_done(self, work: Callable[[], _T]) -> _T:
        """Run `work` in a transaction; on a database outage, undo and retry with backoff."""
        backoff = 0.5
        waited = False
        while True:
            self._undo = {}
            started = time.monotonic()
            try:
                with self.db.conn.transaction():
                    value = work()
                now = time.monotonic()
                emit(log, self.db_outage.up(now))
                if waited:
                    # The time spent waiting for the database was not Kafka's doing.
                    self._kafka_watch.restart_clock(now)
                if self._deliverer is not None:
                    self._deliverer.wake.set()
                return value
            except psycopg.OperationalError as exc:
                self._rollback_memory()
                waited = True
                emit(log, self.db_outage.down(first_line(exc), time.monotonic(), since=started))
                if self.stopping.wait(backoff):
                    raise SystemExit(1) from None
                backoff = min(MAX_BACKOFF_S, backoff * 2)
                self._reconnect()

    def _remember(self, target: str) -> None:
        """Keep the state as it was before this transaction, to undo it on failure."""
        if target in self._undo:
            return
        current = self.states.get(target)
        self._undo[target] = (
            None if current is None else (st.dump(current), self.partition_of.get(target, -1))
        )

    def _rollback_memory(self) -> None:
        for target, saved in self._undo.items():
            if saved is None:
                self.states.pop(target, None)
                self.partition_of.pop(target, None)
            else:
                self.states[target] = st.load(saved[0])
                self.partition_of[target] = saved[1]
        self._undo = {}

    def _reconnect(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.db.conn.close()
        with contextlib.suppress(psycopg.OperationalError):
            self._db = AlertDB(
                connect(self.settings.postgres_url, application_name=APPLICATION_NAME),
                self.settings.group_id,
            )

    def _process(self, batch: list[Message]) -> None:
        now = self.clock()
        touched: dict[str, int] = {}
        offsets: dict[int, int] = {}
        outbox: list[OutboxRow] = []
        rejected: list[Rejected] = []
        for message in batch:
            partition, offset = message.partition(), message.offset()
            assert partition is not None and offset is not None
            offsets[partition] = max(offsets.get(partition, -1), offset + 1)
            try:
                result = read_result(message.value(), self.settings.max_message_bytes)
            except BadMessage as exc:
                rejected.append(Rejected.of(message, str(exc)))
                continue
            metrics.RESULTS.inc()
            self._remember(result.target)
            target_state = self._state_for(result.target)
            before = _persisted_view(target_state)
            outbox += self._apply(target_state, result, now)
            self.partition_of[result.target] = partition
            if _persisted_view(target_state) != before:
                touched[result.target] = partition
        self.db.enqueue(outbox)
        self.db.save_states(
            [(t, self.topic, p, st.dump(self.states[t])) for t, p in touched.items()]
        )
        self.db.save_offsets(self.topic, offsets)
        if rejected:
            self._skipped(rejected)

    def _skipped(self, rejected: list[Rejected]) -> None:
        """Messages that are not v1 results: recorded (with the batch) and counted."""
        self.db.reject(rejected)
        metrics.REJECTED.inc(len(rejected))
        first = rejected[0]
        log.warning(
            "%d message(s) skipped, not v1 results (kept in rejected_messages), first: "
            "%s[%d]@%d: %s",
            len(rejected),
            first.topic,
            first.partition,
            first.offset,
            first.reason,
        )

    def _state_for(self, target: str) -> st.TargetState:
        found = self.states.get(target)
        if found is None:
            # New to this process: known in the database if the topic's partitions moved.
            found = self.db.load_state(target) or st.TargetState(target=target)
            self.states[target] = found
        return found

    def _apply(self, ts: st.TargetState, result: CheckResult, now: datetime) -> list[OutboxRow]:
        rules = self.config.rules(result.target)
        rows: list[OutboxRow] = []
        change = st.apply_result(ts, result, rules)
        if isinstance(change, st.WentDown):
            incident_id = self.db.open_incident(
                ts.target, change.started, change.cause, list(change.locations)
            )
            incident = ts.open_incident(incident_id, change)
            metrics.INCIDENTS.inc()
            log.warning("%s is DOWN (incident %d): %s", ts.target, incident_id, change.cause)
            rows.append(self._event("incident_opened", ts, incident, change.confirmed_at))
        elif isinstance(change, st.WentUp):
            assert ts.incident is not None
            self.db.close_incident(ts.incident.id, change.ended)
            closed = ts.close_incident(change)
            log.warning("%s is UP again (incident %d closed)", ts.target, closed.id)
            rows.append(self._event("incident_resolved", ts, closed, change.confirmed_at))
        elif isinstance(change, st.LocationsChanged) and ts.incident is not None:
            ts.incident.locations = list(change.locations)
            self.db.update_incident_locations(ts.incident.id, ts.incident.locations)

        silenced = self._silenced(ts.target, now) or self._silenced(ts.target, result.checked_at)
        warning = st.check_certificate(ts, result, rules)
        if warning is not None:
            rows.append(self._certificate_event(ts, warning, result.checked_at))
            if not silenced:
                rows += self._certificate_notifications(ts, warning, result.checked_at)
                ts.cert_warned_days = warning.threshold
        for planned in st.plan_notifications(ts, rules, now, silenced):
            rows += self._notifications(ts, planned)
        return rows

    def _tick(self) -> None:
        now = self.clock()
        touched: list[tuple[str, str, int, bytes]] = []
        outbox: list[OutboxRow] = []
        for target, ts in list(self.states.items()):
            if not ts.needs_attention():
                continue
            self._remember(target)
            before = st.dump(ts)
            planned = st.plan_notifications(
                ts, self.config.rules(target), now, self._silenced(target, now)
            )
            after = st.dump(ts)
            if after != before:
                touched.append((target, self.topic, self.partition_of[target], after))
            for item in planned:
                outbox += self._notifications(ts, item)
        self.db.enqueue(outbox)
        self.db.save_states(touched)

    def _silenced(self, target: str, at: datetime) -> bool:
        return in_maintenance(self.config.maintenance, target, at)

    # --- outbox rows ---------------------------------------------------------------------
    def _notifications(self, ts: st.TargetState, planned: st.Planned) -> list[OutboxRow]:
        key = notification_key(planned.kind, planned.incident.id, planned.seq)
        info = _incident_info(planned.incident)
        notification = Notification(
            id=key_id(key),
            kind=planned.kind,
            target=ts.target,
            url=ts.url,
            at=planned.at,
            text=render_text(
                planned.kind, ts.target, planned.at, info, reminder=planned.seq or None
            ),
            incident=info,
            reminder=planned.seq if planned.kind == "reminder" else None,
        )
        return self._fan_out(
            ts.target, key, planned.kind, planned.seq, planned.incident.id, notification
        )

    def _certificate_notifications(
        self, ts: st.TargetState, warning: st.CertWarning, at: datetime
    ) -> list[OutboxRow]:
        key = certificate_key(ts.target, warning.expires_at, warning.threshold)
        certificate = _certificate_info(warning)
        notification = Notification(
            id=key_id(key),
            kind="certificate",
            target=ts.target,
            url=ts.url,
            at=at,
            text=render_text("certificate", ts.target, at, None, certificate=certificate),
            certificate=certificate,
        )
        return self._fan_out(ts.target, key, "certificate", warning.threshold, None, notification)

    def _fan_out(
        self,
        target: str,
        key: str,
        kind: str,
        seq: int,
        incident_id: int | None,
        notification: Notification,
    ) -> list[OutboxRow]:
        payload = encoder.encode(notification)
        log.info("queued %s notification: %s", kind, notification.text)
        return [
            OutboxRow(key, channel, target, incident_id, kind, seq, payload)
            for channel in self.config.notifiers_for(target)
        ]

    def _event(
        self, kind: EventType, ts: st.TargetState, incident: st.Incident, at: datetime
    ) -> OutboxRow:
        key = f"incident:{incident.id}:{kind}"
        event = Event(
            id=key_id(key),
            type=kind,
            target=ts.target,
            url=ts.url,
            at=at,
            incident=_incident_info(incident),
        )
        return OutboxRow(
            key, EVENTS_CHANNEL, ts.target, incident.id, kind, 0, encoder.encode(event)
        )

    def _certificate_event(
        self, ts: st.TargetState, warning: st.CertWarning, at: datetime
    ) -> OutboxRow:
        key = certificate_key(ts.target, warning.expires_at, warning.threshold)
        event = Event(
            id=key_id(f"event:{key}"),
            type="certificate_expiring",
            target=ts.target,
            url=ts.url,
            at=at,
            certificate=_certificate_info(warning),
        )
        return OutboxRow(
            key,
            EVENTS_CHANNEL,
            ts.target,
            None,
            "certificate_expiring",
            warning.threshold,
            encoder.encode(event),
        )


def _incident_info(incident: st.Incident) -> IncidentInfo:
    return IncidentInfo(
        id=incident.id,
        started=incident.started,
        ended=incident.ended,
        cause=incident.cause,
        locations=list(incident.locations),
    )


def _certificate_info(warning: st.CertWarning) -> CertificateInfo:
    return CertificateInfo(
        expires_at=warning.expires_at,
        days_left=round(warning.days_left, 3),
        threshold_days=warning.threshold,
    )


def _persisted_view(ts: st.TargetState) -> bytes:
    """The state as it matters for a restart: location times only to the minute.

    A steady target changes nothing else from one check to the next, so most checks
    cost no write at all.
    """
    view = msgspec.structs.replace(
        ts,
        locations={
            name: msgspec.structs.replace(
                loc,
                last_at=loc.last_at.replace(second=0, microsecond=0) if loc.last_at else None,
            )
            for name, loc in ts.locations.items()
        },
    )
    return st.dump(view)


def _next_offsets(messages: list[Message]) -> list[TopicPartition]:
    last: dict[tuple[str, int], int] = {}
    for message in messages:
        partition, offset = message.partition(), message.offset()
        assert partition is not None and offset is not None
        key = (message.topic() or "", partition)
        last[key] = max(last.get(key, -1), offset)
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
