"""Where the local services keep their files, and which ports they use.

Layout under the home folder (``$WAC_HOME``, default ``./.wac`` of the current folder)::

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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wac.settings import variables
from wac.settings.bound import bound, read_bound
from wac.settings.environment import load_environment

# The Maven project that names Kafka's jars and the broker's log4j2 configuration ship
# inside this package (package data), so an installed wheel has them too.
PACKAGE_FILES = Path(__file__).resolve().parent

DEFAULT_KAFKA_PORT = variables.WAC_KAFKA_PORT.default
DEFAULT_POSTGRES_PORT = variables.WAC_POSTGRES_PORT.default
DEFAULT_TOPIC = variables.KAFKA_TOPIC.default
DEFAULT_PARTITIONS = variables.KAFKA_PARTITIONS.default


def default_home(env: Mapping[str, str] | None = None) -> Path:
    """``WAC_HOME``, else the ``.wac`` folder of the current folder (never the package's)."""
    home = variables.WAC_HOME.read(load_environment() if env is None else env)
    return (home if home is not None else Path.cwd() / ".wac").resolve()


@dataclass(frozen=True)
class Settings:
    """Ports, topic, partitions and programs, read once from the settings (wac.settings)."""

    kafka_port: int = bound(variables.WAC_KAFKA_PORT)
    postgres_port: int = bound(variables.WAC_POSTGRES_PORT)
    topic: str = bound(variables.KAFKA_TOPIC)
    partitions: int = bound(variables.KAFKA_PARTITIONS)
    kafka_heap: str = bound(variables.WAC_KAFKA_HEAP)
    pg_bin: Path = bound(variables.WAC_PG_BIN)

    @property
    def kafka_ssl_port(self) -> int:
        return self.kafka_port + 1

    @property
    def kafka_controller_port(self) -> int:
        return self.kafka_port + 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """From `env` (default: the environment over `.env`); a bad value is a ConfigError."""
        return read_bound(cls, env)


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
