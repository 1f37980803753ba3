"""``LocalServices``: the local Kafka and PostgreSQL as one thing to bring up and down."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from wac.localservices.certs import CertFiles, ensure_certs
from wac.localservices.kafka import START_TIMEOUT, KafkaService
from wac.localservices.paths import Paths, Settings, default_home
from wac.localservices.postgres import PostgresService
from wac.localservices.proc import file_lock, listener_on, make_dir
from wac.localservices.system import is_root
from wac.settings.environment import load_environment


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    pid: int | None
    endpoint: str
    log_path: Path
    # When not running: what else listens on its port (another WAC_HOME's service, any
    # other program), or None when the port is free.
    port_taken_by: str | None = None

    @classmethod
    def of(cls, name: str, pid: int | None, endpoint: str, log_path: Path) -> ServiceStatus:
        taken_by = None
        if pid is None:
            host, _, port = endpoint.rpartition(":")
            taken_by = listener_on(host, int(port))
        return cls(
            name=name,
            running=pid is not None,
            pid=pid,
            endpoint=endpoint,
            log_path=log_path,
            port_taken_by=taken_by,
        )


class LocalServices:
    """Local Apache Kafka (SSL with client certificates) and PostgreSQL for dev, tests and CI.

    ``home`` defaults to ``$WAC_HOME`` or the ``.wac`` folder of the current folder. Ports,
    topic and partitions come from ``WAC_KAFKA_PORT`` (19092; SSL +1, controller +2),
    ``WAC_POSTGRES_PORT`` (15432), ``KAFKA_TOPIC`` (website-monitoring) and
    ``KAFKA_PARTITIONS`` (6), read at construction from ``env`` (default: the environment
    over ``.env``, as every command reads its settings).
    Every method is idempotent; ``up``/``down`` and the start/stop methods hold a file lock so
    that concurrent callers (two terminals, parallel tests) don't race.
    """

    def __init__(self, home: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        merged = load_environment() if env is None else env
        self.home = Path(home).expanduser().resolve() if home is not None else default_home(merged)
        self.paths = Paths(self.home)
        self.settings = Settings.from_env(merged)
        self.kafka = KafkaService(self.paths, self.settings)
        self.postgres = PostgresService(self.paths, self.settings)
        self._lock_depth = 0
        self._thread_lock = threading.RLock()

    # ----------------------------------------------------------------- helpers
    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            if self._lock_depth:
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1
                return
            self._ensure_home()
            with file_lock(self.paths.lock):
                self._lock_depth = 1
                try:
                    yield
                finally:
                    self._lock_depth = 0

    def _ensure_home(self) -> None:
        # as root the ``postgres`` user must traverse the home folder (0711: no listing)
        make_dir(self.home, 0o711 if is_root() else 0o700)

    def _certs(self) -> tuple[CertFiles, bool]:
        self._ensure_home()
        return ensure_certs(self.paths.pki, self.paths.certs)

    # ----------------------------------------------------------------- public API
    def up(self) -> None:
        """Start whatever isn't running and wait until both accept connections."""
        with self._locked():
            certs, broker_changed = self._certs()
            # the JVM takes seconds to boot: let it, while PostgreSQL starts
            pid = self.kafka.launch(certs, restart_for_new_certs=broker_changed)
            try:
                self.postgres.start()
            finally:
                admin = self.kafka.wait_ready(certs, pid, START_TIMEOUT)
            self.kafka.ensure_topic(certs, self.settings.topic, self.settings.partitions, admin)

    def down(self) -> None:
        """Stop both (Kafka first, so nothing is mid-write to it). Idempotent."""
        with self._locked():
            self.stop_kafka()
            self.stop_postgres()

    def start_kafka(self) -> None:
        """Start Kafka unless it runs, wait for the SSL listener, create the topic."""
        with self._locked():
            certs, broker_changed = self._certs()
            self.kafka.start(certs, restart_for_new_certs=broker_changed)

    def stop_kafka(self) -> None:
        with self._locked():
            self.kafka.stop()

    def start_postgres(self) -> None:
        """Start PostgreSQL unless it runs and make sure the app user can log in."""
        with self._locked():
            self._certs()
            self.postgres.start()

    def stop_postgres(self) -> None:
        with self._locked():
            self.postgres.stop()

    def status(self) -> list[ServiceStatus]:
        return [
            ServiceStatus.of(
                "kafka", self.kafka.pid(), self.kafka.ssl_endpoint, self.kafka.log_path
            ),
            ServiceStatus.of(
                "postgres", self.postgres.pid(), self.postgres.endpoint, self.postgres.log_path
            ),
        ]

    def env(self) -> dict[str, str]:
        """The settings the application needs to use these services (contains the password)."""
        with self._locked():
            certs, _ = self._certs()
            password_url = self.postgres.url()
        return {
            "KAFKA_ENDPOINT": self.kafka.ssl_endpoint,
            "KAFKA_PLAINTEXT_ENDPOINT": self.kafka.plaintext_endpoint,
            "KAFKA_CERT_DIR": str(certs.client_dir),
            "KAFKA_USE_SSL": "true",
            "KAFKA_TOPIC": self.settings.topic,
            "POSTGRES_ENDPOINT": password_url,
        }

    def fetch_jars(self) -> None:
        """Resolve Kafka's jars with Maven into the cache unless they are there already."""
        with self._locked():
            self.kafka.fetch_jars()
