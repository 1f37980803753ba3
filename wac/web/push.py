"""`GET` or `POST /api/push/<token>`: a heartbeat target's ping.

The token names the target (each push:// target has its own: wac.heartbeat). A ping is
noted in PostgreSQL (`push_pings`, which the monitors' heartbeat watchers read) and
published to the results topic as an up result of probe `push`; the answer is 200 once
Kafka has acknowledged it, 503 when the database or Kafka cannot take it (the job may
ping again), 404 for a token no target has. Tokens are looked up by their SHA-256 (no
comparison of the secret itself) and never logged: the route's name in logs and
metrics is `/api/push/{token}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Iterable

import psycopg
from aiohttp import web

from wac.config import KafkaSettings
from wac.conninfo import scrub
from wac.db.connect import connect
from wac.errors import first_line
from wac.heartbeat.periods import up_result
from wac.heartbeat.pings import record_ping
from wac.result import encode, iso_utc, utc_now
from wac.runtime.confirmed import ConfirmingProducer
from wac.runtime.kafka_clients import producer_config
from wac.targets import Target

log = logging.getLogger(__name__)

ROUTE = "/api/push/{token}"
DELIVERY_TIMEOUT_S = 10.0


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class PushReceiver:
    """The targets' tokens, a database connection and a producer, for the pings."""

    def __init__(
        self, targets: Iterable[Target], postgres_url: str, kafka: KafkaSettings, monitor: str
    ) -> None:
        self._by_digest: dict[bytes, Target] = {}
        for target in targets:
            token = getattr(target.probe_options, "token", None)
            if target.scheme == "push" and isinstance(token, str):
                self._by_digest[_digest(token)] = target
        self._url = postgres_url
        self._kafka = kafka
        self._monitor = monitor
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._producer: ConfirmingProducer | None = None

    @property
    def targets(self) -> int:
        return len(self._by_digest)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("GET", ROUTE, self.handle)
        app.router.add_route("POST", ROUTE, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        target = self._by_digest.get(_digest(request.match_info["token"]))
        if target is None:
            raise web.HTTPNotFound(text="no push target has this token")
        if request.method == "POST":
            await request.content.read(65536)  # a job may post its output: not kept
        loop = asyncio.get_running_loop()
        checked_at = await loop.run_in_executor(None, self._ping, target)
        return web.json_response({"ok": True, "target": target.id, "checked_at": checked_at})

    def _ping(self, target: Target) -> str:
        result = up_result(target, utc_now(), self._monitor)
        with self._lock:
            try:
                conn = self._connection()
                record_ping(conn, target.id, result.checked_at, result.id)
            except psycopg.Error as exc:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                log.warning(
                    "ping of %s: database unavailable: %s",
                    target.id,
                    scrub(first_line(exc), self._url),
                )
                raise web.HTTPServiceUnavailable(text="database unavailable; ping again") from None
            self._publish(target, encode(result))
        return iso_utc(result.checked_at)

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self._url, application_name="wac-web-push", autocommit=True)
        return self._conn

    def _publish(self, target: Target, value: bytes) -> None:
        if self._producer is None:
            self._producer = ConfirmingProducer(
                # librdkafka's own message timeout, as before the kit's producer was used
                producer_config(self._kafka, linger_ms=5, message_timeout_ms=300_000),
                what="ping results",
            )
        unconfirmed = self._producer.send(
            self._kafka.topic, [(target.id.encode(), value)], DELIVERY_TIMEOUT_S
        )
        if unconfirmed is not None:
            reason = unconfirmed.refused or "not acknowledged in time"
            log.warning("ping of %s: Kafka did not take its result: %s", target.id, reason)
            raise web.HTTPServiceUnavailable(text="Kafka unavailable; ping again")

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.flush(5)
            if self._conn is not None:
                self._conn.close()
