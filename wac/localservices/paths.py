"""Where the local services keep their files, and which ports they use.

Layout under the home folder (``$WAC_HOME``, default ``<repo root>/.wac``, git-ignored)::

    <home>/
      .lock                   serialises up/down between processes
      pki/                    0700: ca.key (never leaves here), ca.pem, broker.pem (key+chain)
      certs/                  0700: ca.pem, service.cert, service.key (KAFKA_CERT_DIR)
      kafka/                  0700: server.properties, kafka.pid, kafka.log (log4j2, rolled
                              at 50 MB), kafka.out (JVM stdout/stderr, this run), format.log,
                              mvn.log, cluster-id, libs/ (jars from Maven), data/ (KRaft)
      postgres/               0711 as root: password (0600), postgres.log, initdb.log,
                              pg_ctl.log, setup.log, data/ (cluster incl. wac.conf, 0700, owned
                              by ``postgres`` when run as root), run/ (unix socket)

PostgreSQL's files may live elsewhere when running as root: see
:func:`wac.localservices.postgres.PostgresService`, which falls back to ``/var/lib/wac/<hash>/``
when the ``postgres`` user cannot traverse to ``<home>/postgres``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The Maven project that names Kafka's jars and the broker's log4j2 configuration ship
# inside this package (package data), so an installed wheel has them too.
PACKAGE_FILES = Path(__file__).resolve().parent

DEFAULT_KAFKA_PORT = 19092
DEFAULT_POSTGRES_PORT = 15432
DEFAULT_TOPIC = "website-monitoring"
DEFAULT_PARTITIONS = 6


def repo_root() -> Path:
    """The folder holding the ``wac`` package (the git checkout in development)."""
    return PACKAGE_FILES.parents[1]


def default_home() -> Path:
    env = os.environ.get("WAC_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return repo_root() / ".wac"


def _env_int(name: str, default: int, low: int = 1, high: int = 65535) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        from wac.localservices.errors import ServiceError

        raise ServiceError(f"{name}={raw!r} is not an integer.") from None
    if not low <= value <= high:
        from wac.localservices.errors import ServiceError

        raise ServiceError(f"{name}={value} is out of range ({low}..{high}).")
    return value


@dataclass(frozen=True)
class Settings:
    """Ports, topic and partitions, read from the environment once."""

    kafka_port: int
    postgres_port: int
    topic: str
    partitions: int

    @property
    def kafka_ssl_port(self) -> int:
        return self.kafka_port + 1

    @property
    def kafka_controller_port(self) -> int:
        return self.kafka_port + 2

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            kafka_port=_env_int("WAC_KAFKA_PORT", DEFAULT_KAFKA_PORT, 1, 65533),
            postgres_port=_env_int("WAC_POSTGRES_PORT", DEFAULT_POSTGRES_PORT),
            topic=os.environ.get("KAFKA_TOPIC", "").strip() or DEFAULT_TOPIC,
            partitions=_env_int("KAFKA_PARTITIONS", DEFAULT_PARTITIONS, 1, 10_000),
        )


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def lock(self) -> Path:
        return self.home / ".lock"

    # certificates
    @property
    def pki(self) -> Path:
        return self.home / "pki"

    @property
    def certs(self) -> Path:
        return self.home / "certs"

    # kafka
    @property
    def kafka(self) -> Path:
        return self.home / "kafka"

    @property
    def kafka_libs(self) -> Path:
        return self.kafka / "libs"

    @property
    def kafka_data(self) -> Path:
        return self.kafka / "data"

    @property
    def kafka_properties(self) -> Path:
        return self.kafka / "server.properties"

    @property
    def kafka_pid(self) -> Path:
        return self.kafka / "kafka.pid"

    @property
    def kafka_log(self) -> Path:
        return self.kafka / "kafka.log"

    @property
    def kafka_out(self) -> Path:
        return self.kafka / "kafka.out"

    @property
    def kafka_cluster_id(self) -> Path:
        return self.kafka / "cluster-id"

    @property
    def kafka_pom(self) -> Path:
        return PACKAGE_FILES / "kafka_files" / "pom.xml"

    @property
    def kafka_log4j(self) -> Path:
        return PACKAGE_FILES / "kafka_files" / "log4j2.xml"

    # postgres
    @property
    def postgres(self) -> Path:
        return self.home / "postgres"

    @property
    def postgres_password(self) -> Path:
        return self.postgres / "password"
