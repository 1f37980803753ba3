"""The Kafka and PostgreSQL settings every service shares, read through wac.settings.

The variables themselves (names, defaults, parsing, bounds) are defined once in
wac.settings.variables; this module assembles the ones every service needs into typed
settings, and says what to do when an endpoint is missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from wac import conninfo
from wac.errors import ConfigError
from wac.settings import values
from wac.settings import variables as v
from wac.settings.bound import bound, read_bound
from wac.settings.durations import parse_duration_text
from wac.settings.environment import load_environment

__all__ = [
    "CERT_FILES",
    "LOCAL_SERVICES_HINT",
    "KafkaSettings",
    "Settings",
    "load_environment",
    "load_settings",
    "parse_kafka_endpoint",
    "parse_timeout",
    "redact_url",
    "redact_userinfo",
]

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
    kafka_endpoint: str | None = bound(v.KAFKA_ENDPOINT)
    kafka_cert_dir: Path = bound(v.KAFKA_CERT_DIR)
    kafka_topic: str = bound(v.KAFKA_TOPIC)
    kafka_client_id: str = bound(v.KAFKA_CLIENT_ID)
    kafka_group_id: str = bound(v.KAFKA_GROUP_ID)
    kafka_use_ssl: bool = bound(v.KAFKA_USE_SSL)
    kafka_partitions: int = bound(v.KAFKA_PARTITIONS)
    check_timeout: float = bound(v.CHECK_TIMEOUT)
    postgres_endpoint: str | None = bound(v.POSTGRES_ENDPOINT)
    # WAC_MONITOR_NAME, else the host name (load_settings fills it in)
    monitor_name: str = ""

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

    def endpoints_given(self) -> bool:
        """True when both endpoints are set; ConfigError when only one of them is: a
        half-given pair is a mistake, never a reason to use the local services instead."""
        kafka, postgres = bool(self.kafka_endpoint), bool(self.postgres_endpoint)
        if kafka != postgres:
            given, missing = (
                ("KAFKA_ENDPOINT", "POSTGRES_ENDPOINT")
                if kafka
                else ("POSTGRES_ENDPOINT", "KAFKA_ENDPOINT")
            )
            raise ConfigError(
                f"{given} is set but {missing} is not: set both to use your own Kafka and "
                "PostgreSQL, or neither to use the local services"
            )
        return kafka


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The shared settings from `environ` (default: the environment over `.env`)."""
    env = load_environment() if environ is None else environ
    return read_bound(
        Settings, env, monitor_name=v.WAC_MONITOR_NAME.read(env) or os.uname().nodename
    )


def parse_kafka_endpoint(raw: str) -> str:
    """`host:port[,host:port...]` as KAFKA_ENDPOINT takes it; the bootstrap list."""
    return values.kafka_endpoint(raw, "KAFKA_ENDPOINT")


def parse_timeout(raw: str | None) -> float:
    """CHECK_TIMEOUT's value (1 s when unset)."""
    return v.CHECK_TIMEOUT.read({} if raw is None else {"CHECK_TIMEOUT": raw})


def parse_seconds_option(raw: str, option: str, lowest: float, highest: float) -> float:
    """A duration given to a command-line option, within its bounds."""
    return parse_duration_text(raw, option, lowest=lowest, highest=highest)


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
