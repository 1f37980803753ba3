"""Settings read from the environment and an optional `.env` file.

The seed's variables keep their names and defaults; new ones are prefixed `WAC_`
or follow the seed's `KAFKA_`/`POSTGRES_` style. Every setting is listed in the
README's table.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

from wac import conninfo, limits
from wac.errors import ConfigError

CERT_FILES = ("ca.pem", "service.cert", "service.key")
LOCAL_SERVICES_HINT = (
    'for the local services run `wac services up` and `eval "$(wac services env)"`'
)


@dataclass(frozen=True)
class KafkaSettings:
    endpoint: str
    cert_dir: Path
    topic: str
    client_id: str
    group_id: str
    use_ssl: bool
    partitions: int

    @property
    def ca_file(self) -> Path:
        return self.cert_dir / "ca.pem"

    @property
    def cert_file(self) -> Path:
        return self.cert_dir / "service.cert"

    @property
    def key_file(self) -> Path:
        return self.cert_dir / "service.key"


@dataclass(frozen=True)
class Settings:
    kafka_endpoint: str | None
    kafka_cert_dir: Path
    kafka_topic: str
    kafka_client_id: str
    kafka_group_id: str
    kafka_use_ssl: bool
    kafka_partitions: int
    check_timeout: float
    postgres_endpoint: str | None
    monitor_name: str

    def kafka(self) -> KafkaSettings:
        """The Kafka settings, checked: raises ConfigError when the endpoint is missing."""
        if not self.kafka_endpoint:
            raise ConfigError(
                f"KAFKA_ENDPOINT is not set: set it to host:port; {LOCAL_SERVICES_HINT}"
            )
        return KafkaSettings(
            endpoint=self.kafka_endpoint,
            cert_dir=self.kafka_cert_dir,
            topic=self.kafka_topic,
            client_id=self.kafka_client_id,
            group_id=self.kafka_group_id,
            use_ssl=self.kafka_use_ssl,
            partitions=self.kafka_partitions,
        )

    def postgres(self) -> str:
        """The PostgreSQL URL, checked: raises ConfigError when missing."""
        if not self.postgres_endpoint:
            raise ConfigError(
                "POSTGRES_ENDPOINT is not set: set it to "
                f"postgresql://USER:PASSWORD@HOST:PORT/DBNAME (or key=value pairs); "
                f"{LOCAL_SERVICES_HINT}"
            )
        return self.postgres_endpoint


def load_environment(env_file: Path | None = None) -> dict[str, str]:
    """The process environment over the `.env` file: a variable set in the shell wins."""
    path = env_file if env_file is not None else Path(".env")
    merged: dict[str, str] = {}
    if path.is_file():
        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(os.environ)
    return merged


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = load_environment() if environ is None else environ
    endpoint = env.get("KAFKA_ENDPOINT") or None
    if endpoint is not None:
        endpoint = parse_kafka_endpoint(endpoint)
    postgres = (env.get("POSTGRES_ENDPOINT") or "").strip() or None
    if postgres is not None:
        conninfo.check(postgres, "POSTGRES_ENDPOINT")
    return Settings(
        kafka_endpoint=endpoint,
        kafka_cert_dir=Path(env.get("KAFKA_CERT_DIR") or "./certs"),
        kafka_topic=_non_empty(env, "KAFKA_TOPIC", "website-monitoring"),
        kafka_client_id=_non_empty(env, "KAFKA_CLIENT_ID", "website-monitoring-client"),
        kafka_group_id=_non_empty(env, "KAFKA_GROUP_ID", "website-monitoring-group"),
        kafka_use_ssl=parse_bool(env.get("KAFKA_USE_SSL"), "KAFKA_USE_SSL", default=True),
        kafka_partitions=parse_positive_int(env.get("KAFKA_PARTITIONS"), "KAFKA_PARTITIONS", 6),
        check_timeout=parse_timeout(env.get("CHECK_TIMEOUT")),
        postgres_endpoint=postgres,
        monitor_name=env.get("WAC_MONITOR_NAME") or os.uname().nodename,
    )


def _non_empty(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name)
    return value if value else default


def parse_bool(raw: str | None, name: str, *, default: bool) -> bool:
    """The seed's rule for KAFKA_USE_SSL: on unless `false`; also accepts the usual spellings."""
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("false", "0", "no", "off"):
        return False
    if value in ("true", "1", "yes", "on"):
        return True
    raise ConfigError(f"{name}={raw!r} is not a boolean: use true or false")


def parse_positive_int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number: use e.g. {default}") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be positive")
    return value


def parse_port(raw: str, name: str) -> int:
    """A TCP port to listen on, 1 to 65535; `name` is the option or variable it came from."""
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{name}={raw[:20]!r} is not a TCP port: use a number from 1 to 65535")
    return int(text)


def parse_timeout(raw: str | None) -> float:
    if raw is None or raw.strip() == "":
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(
            f"CHECK_TIMEOUT={raw!r} is not a number: give seconds, e.g. 1 or 2.5"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"CHECK_TIMEOUT={raw!r} must be a positive number of seconds")
    if not limits.MIN_TIMEOUT_S <= value <= limits.MAX_TIMEOUT_S:
        raise ConfigError(
            f"CHECK_TIMEOUT={raw!r} must be between {limits.MIN_TIMEOUT_S} and "
            f"{limits.MAX_TIMEOUT_S:g} seconds"
        )
    return value


def parse_kafka_endpoint(raw: str) -> str:
    """`host:port[,host:port...]`, optionally with a scheme as managed services print them.

    Returns the comma-separated bootstrap list librdkafka expects.
    """
    servers = []
    for part in raw.split(","):
        item = part.strip()
        if "://" in item:
            item = item.split("://", 1)[1]
        item = item.rstrip("/")
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                f"KAFKA_ENDPOINT={raw!r} is not host:port (e.g. kafka.example.com:9093); "
                "separate several brokers with commas"
            )
        servers.append(f"{host}:{port}")
    return ",".join(servers)


def redact_url(url: str) -> str:
    """A PostgreSQL connection string (URL or key=value) with every password masked."""
    return conninfo.redact(url)


def redact_userinfo(url: str) -> str:
    """The URL without its user and password (`https://***@host/`), for results and logs.

    A target may carry credentials in its URL (basic auth, a token as user name); they are
    sent to the site but never published.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))
