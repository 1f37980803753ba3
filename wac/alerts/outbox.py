"""Delivery of the outbox: worker threads that send each row once, with retries.

Each worker, on its own connection, locks the next due row (`FOR UPDATE SKIP LOCKED`),
delivers it and marks it sent in the same transaction. A crash (even SIGKILL) before
that commit leaves the row pending and unlocked, and a later worker delivers it again
with the same id: receivers dedupe on it (`Idempotency-Key`, Message-ID, event `id`).
A failed attempt is logged, counted and retried with exponential backoff (not sooner
than the receiver's Retry-After); since a worker only holds one row at a time, a slow
or failing notifier delays nothing but its own later messages for the same target. A
permanent refusal (a 4xx other than 408 and 429: a wrong key, a payload the vendor
rejects) is given up at once: the same request would only be refused again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime

import psycopg

from wac.alerts import metrics
from wac.alerts.config import Delivery
from wac.alerts.db import EVENTS_CHANNEL, Claimed, claim_due, mark_failed, mark_sent
from wac.alerts.messages import notification_decoder
from wac.alerts.notifiers import DeliveryError, Notifier
from wac.config import KafkaSettings
from wac.db.connect import connect, error_text
from wac.runtime.backoff import Backoff
from wac.runtime.confirmed import ConfirmingProducer
from wac.runtime.kafka_clients import producer_config
from wac.runtime.kafka_fatal import KafkaFatal
from wac.runtime.outage import OutageTracker, emit

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.5
MAX_RETRY_WAIT_S = 5.0  # a worker waits at most this long between two tries of the database
DELIVERY_APPLICATION = "wac-alert-delivery"  # how its connections show in pg_stat_activity


class EventSink:
    """The events topic: one idempotent producer shared by the workers.

    A send waits until the broker acknowledged every event produced so far (the
    delivery workers send one at a time each), and fails when one could not be
    delivered meanwhile: the outbox row is then retried, and its event's id lets the
    readers of the topic drop a second copy.
    """

    def __init__(self, kafka: KafkaSettings, topic: str, timeout: float = 10.0) -> None:
        self.topic = topic
        self.timeout = timeout
        self._producer = ConfirmingProducer(
            producer_config(
                kafka,
                linger_ms=5,
                # Given up with the attempt, so a late copy cannot follow the retry.
                message_timeout_ms=int(timeout * 1000),
            ),
            what="events",
        )

    @property
    def failed(self) -> KafkaFatal | None:
        """Set when the producer failed for good: `wac alert` stops (exit code 2)."""
        return self._producer.failed

    def send(self, key: str, value: bytes) -> None:
        try:
            unconfirmed = self._producer.send(self.topic, [(key.encode(), value)], self.timeout)
        except (BufferError, KafkaFatal) as exc:
            raise DeliveryError(f"Kafka did not take the event: {exc}") from None
        if unconfirmed is not None and unconfirmed.left:
            raise DeliveryError(f"Kafka did not acknowledge the event within {self.timeout:g} s")
        if unconfirmed is not None:
            raise DeliveryError(f"Kafka refused the event: {unconfirmed.refused}")

    def close(self) -> None:
        self._producer.flush(self.timeout)


class Deliverer:
    def __init__(
        self,
        postgres_url: str,
        group: str,
        notifiers: Mapping[str, Notifier],
        events: EventSink | None,
        delivery: Delivery,
        *,
        db_outage: OutageTracker | None = None,
    ) -> None:
        self.postgres_url = postgres_url
        self.group = group
        self.notifiers = dict(notifiers)
        self.events = events
        self.delivery = delivery
        self.channels = sorted(self.notifiers) + ([EVENTS_CHANNEL] if events else [])
        self.wake = threading.Event()
        # Shared by the workers (and with the service that runs them): one line per outage.
        self.db_outage = db_outage or OutageTracker("PostgreSQL", meanwhile="retrying")
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._report_orphans()
        for index in range(self.delivery.workers):
            thread = threading.Thread(
                target=self._worker, name=f"alert-delivery-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _report_orphans(self) -> None:
        """Pending rows for a notifier no longer configured wait; say so once."""
        try:
            with connect(self.postgres_url, application_name=DELIVERY_APPLICATION) as conn:
                rows = conn.execute(
                    "SELECT channel, count(*) FROM alert_outbox WHERE consumer_group = %s"
                    " AND status = 'pending' AND NOT (channel = ANY(%s)) GROUP BY channel",
                    (self.group, self.channels),
                ).fetchall()
        except psycopg.Error:
            return
        for channel, count in rows:
            log.warning(
                "%d notification(s) for notifier %r are pending, but it is no longer "
                "configured: they wait until it is configured again",
                count,
                channel,
            )

    def stop(self, timeout: float = 15.0) -> None:
        self.stopping.set()
        self.wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        if self.events is not None:
            self.events.close()

    # --- one worker -------------------------------------------------------------
    def _worker(self) -> None:
        conn: psycopg.Connection | None = None
        backoff = Backoff(cap=MAX_RETRY_WAIT_S)
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                if conn is None or conn.closed:
                    conn = connect(self.postgres_url, application_name=DELIVERY_APPLICATION)
                delivered = self._deliver_one(conn)
                emit(log, self.db_outage.up(time.monotonic()))
                backoff.reset()
            except psycopg.Error as exc:
                reason = f"delivering notifications: {error_text(exc, self.postgres_url)}"
                emit(log, self.db_outage.down(reason, time.monotonic(), since=started))
                if conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        conn.close()
                conn = None
                backoff.wait(self.stopping)
                continue
            if not delivered:
                self.wake.wait(IDLE_POLL_S)
                self.wake.clear()
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def _deliver_one(self, conn: psycopg.Connection) -> bool:
        with conn.transaction():
            row = claim_due(conn, self.group, self.channels)
            if row is None:
                return False
            try:
                self._send(row)
            except DeliveryError as exc:
                self._failed(
                    conn, row, str(exc), permanent=exc.permanent, retry_after=exc.retry_after
                )
                return True
            except Exception as exc:  # a bug in a notifier must not stop the worker
                log.exception("delivery of outbox row %d via %s crashed", row.id, row.channel)
                self._failed(conn, row, f"internal error: {type(exc).__name__}")
                return True
            mark_sent(conn, row.id)
        metrics.SENT.labels(row.channel).inc()
        log.info(
            "delivered %s of %s via %s%s",
            row.kind,
            row.target,
            row.channel,
            f" after {row.attempts + 1} attempts" if row.attempts else "",
        )
        return True

    def _send(self, row: Claimed) -> None:
        if row.channel == EVENTS_CHANNEL:
            assert self.events is not None
            self.events.send(row.target, row.payload)
            return
        notifier = self.notifiers[row.channel]
        notifier.send(notification_decoder.decode(row.payload))

    def _failed(
        self,
        conn: psycopg.Connection,
        row: Claimed,
        error: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        attempts = row.attempts + 1
        age = (datetime.now(UTC) - row.created_at).total_seconds()
        metrics.FAILED.labels(row.channel).inc()
        if permanent:
            mark_failed(conn, row.id, error, None)
            metrics.GAVE_UP.labels(row.channel).inc()
            log.error(
                "giving up %s of %s via %s: %s (refused for good: a retry would be refused "
                "again; check the notifier's settings)",
                row.kind,
                row.target,
                row.channel,
                error,
            )
            return
        if age >= self.delivery.give_up_after:
            mark_failed(conn, row.id, error, None)
            metrics.GAVE_UP.labels(row.channel).inc()
            log.error(
                "giving up %s of %s via %s after %d attempts over %.0f s: %s",
                row.kind,
                row.target,
                row.channel,
                attempts,
                age,
                error,
            )
            return
        retry_in = max(self.delivery.backoff(attempts), retry_after or 0.0)
        mark_failed(conn, row.id, error, retry_in)
        log.warning(
            "delivery of %s of %s via %s failed (attempt %d): %s; retrying in %.1f s",
            row.kind,
            row.target,
            row.channel,
            attempts,
            error,
            retry_in,
        )
