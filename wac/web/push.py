"""`GET` or `POST /api/push/<token>`: a heartbeat target's ping.

The token names the target (each push:// target has its own: wac.heartbeat). The targets
are those of the targets file (`--config`) and the managed ones (the store's mirror of
the targets topic, `managed_targets`, read again at most every `REFRESH_S`, and at most
once a second when a token is not found). A managed definition carries its token's
variable name (`token_env`) only: the token is read from this process's environment, so
it never travels through Kafka or PostgreSQL; a managed target whose variable is not set
here takes no pings (one warning naming the variable). The file's targets win over a
managed one of the same id or token (one warning). A paused managed target still takes
pings (its job runs on; the monitors just do not watch it).

A ping is noted in PostgreSQL (`push_pings`, which the monitors' heartbeat watchers
read) and published to the results topic as an up result of probe `push`; the answer is
200 once Kafka has acknowledged it, 503 when the database or Kafka cannot take it (the
job may ping again), 404 for a token no target has. Tokens are looked up by their SHA-256 (no
comparison of the secret itself) and never logged: the route's name in logs and
metrics is `/api/push/{token}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping

import psycopg
from aiohttp import web

from wac.config import KafkaSettings
from wac.conninfo import scrub
from wac.db.connect import connect
from wac.errors import ConfigError, first_line
from wac.heartbeat.periods import options_of, up_result
from wac.heartbeat.pings import record_ping
from wac.result import encode, iso_utc, utc_now
from wac.runtime.confirmed import ConfirmingProducer
from wac.runtime.kafka_clients import producer_config
from wac.targets import Target
from wac.targets.definition import definition_from_json
from wac.targets.probe_options import push_token
from wac.yaml_config import shown

log = logging.getLogger(__name__)

ROUTE = "/api/push/{token}"
DELIVERY_TIMEOUT_S = 10.0
REFRESH_S = 5.0  # a managed push target deleted or changed takes effect within this


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class PushReceiver:
    """The targets' tokens, a database connection and a producer, for the pings."""

    def __init__(
        self,
        targets: Iterable[Target],
        postgres_url: str,
        kafka: KafkaSettings,
        monitor: str,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replace_file_targets(targets)
        self._managed: dict[bytes, Target] = {}
        self._env = env
        self._clock = clock
        self._refreshed_at: float | None = None
        self._warned: set[tuple[str, str]] = set()  # (target, problem) said once
        self._url = postgres_url
        self._kafka = kafka
        self._monitor = monitor
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._producer: ConfirmingProducer | None = None

    def replace_file_targets(self, targets: Iterable[Target]) -> None:
        """The targets file's push targets (at start, and read again on SIGHUP)."""
        by_digest: dict[bytes, Target] = {}
        for target in targets:
            token = getattr(target.probe_options, "token", None)
            if target.scheme == "push" and isinstance(token, str):
                by_digest[_digest(token)] = target
        # Two assignments a lookup in another thread may see apart: an id in neither
        # only lets a managed target of that id answer for a moment.
        self._by_digest = by_digest
        self._file_ids = {t.id for t in by_digest.values()}
        self._refreshed_at = None  # the managed ones read again, against the new file

    @property
    def targets(self) -> int:
        return len(self._by_digest)

    @property
    def managed(self) -> int:
        return len(self._managed)

    def lookup(self, token: str) -> Target | None:
        """The target of a token: the file's, else a managed one (the mirror read again
        when due); None for a token no target has."""
        digest = _digest(token)
        found = self._by_digest.get(digest)
        if found is not None:
            return found
        with self._lock:
            now = self._clock()
            age = None if self._refreshed_at is None else now - self._refreshed_at
            if age is None or age >= REFRESH_S or (digest not in self._managed and age >= 1.0):
                self._refreshed_at = now
                try:
                    self._managed = self._read_managed(self._connection())
                except psycopg.Error as exc:
                    self._drop_connection()
                    log.warning(
                        "push: managed targets unavailable: %s",
                        scrub(first_line(exc), self._url),
                    )
            return self._managed.get(digest)

    def _read_managed(self, conn: psycopg.Connection) -> dict[bytes, Target]:
        rows = conn.execute(
            "SELECT target, definition FROM managed_targets WHERE url LIKE 'push://%%'"
        ).fetchall()
        found: dict[bytes, Target] = {}
        for target_id, value in rows:
            try:
                target = definition_from_json(value, "managed target", key=target_id).target
                options = options_of(target)
                token = push_token(options.token_env, f"managed target {target_id}", self._env)
            except (ConfigError, TypeError) as exc:
                self._warn_once(target_id, f"takes no pings: {exc}")
                continue
            digest = _digest(token)
            if target_id in self._file_ids or digest in self._by_digest:
                self._warn_once(
                    target_id,
                    "takes no pings here: the targets file (--config) has a push target of "
                    "the same id or token, which wins",
                )
                continue
            if digest in found:
                self._warn_once(
                    target_id,
                    f"takes no pings: {found[digest].id} has the same token; give each push "
                    "target its own",
                )
                continue
            found[digest] = target
        return found

    def _warn_once(self, target_id: str, problem: str) -> None:
        if (target_id, problem) not in self._warned:
            self._warned.add((target_id, problem))
            log.warning("push target %s (managed) %s", shown(target_id), problem)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("GET", ROUTE, self.handle)
        app.router.add_route("POST", ROUTE, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        target = await loop.run_in_executor(None, self.lookup, request.match_info["token"])
        if target is None:
            raise web.HTTPNotFound(text="no push target has this token")
        if request.method == "POST":
            await request.content.read(65536)  # a job may post its output: not kept
        checked_at = await loop.run_in_executor(None, self._ping, target)
        return web.json_response({"ok": True, "target": target.id, "checked_at": checked_at})

    def _ping(self, target: Target) -> str:
        result = up_result(target, utc_now(), self._monitor)
        with self._lock:
            try:
                conn = self._connection()
                record_ping(conn, target.id, result.checked_at, result.id)
            except psycopg.Error as exc:
                self._drop_connection()
                log.warning(
                    "ping of %s: database unavailable: %s",
                    target.id,
                    scrub(first_line(exc), self._url),
                )
                raise web.HTTPServiceUnavailable(text="database unavailable; ping again") from None
            self._publish(target, encode(result))
        return iso_utc(result.checked_at)

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

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
