"""Kafka clients (confluent-kafka) configured from the settings, checked at start.

`client_config` maps the seed's variables onto librdkafka; `connect_check` turns a
broker that cannot be reached or refuses our certificate into one clear
ServiceUnavailable instead of librdkafka's endless retries.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from wac.config import CERT_FILES, LOCAL_SERVICES_HINT, KafkaSettings
from wac.errors import ConfigError, ServiceUnavailable

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0


def client_config(kafka: KafkaSettings, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": kafka.endpoint,
        "client.id": kafka.client_id,
        "socket.keepalive.enable": True,
    }
    if kafka.use_ssl:
        check_cert_files(kafka)
        config.update(
            {
                "security.protocol": "SSL",
                "ssl.ca.location": str(kafka.ca_file),
                "ssl.certificate.location": str(kafka.cert_file),
                "ssl.key.location": str(kafka.key_file),
            }
        )
    config.update(extra)
    return config


def check_cert_files(kafka: KafkaSettings) -> None:
    """Each of ca.pem, service.cert, service.key exists, is readable and looks like PEM."""
    hint = (
        "put your Kafka service's ca.pem, service.cert and service.key there "
        f"(or set KAFKA_USE_SSL=false for a plaintext broker); {LOCAL_SERVICES_HINT}"
    )
    if not kafka.cert_dir.is_dir():
        raise ConfigError(f"KAFKA_CERT_DIR={str(kafka.cert_dir)!r} is not a directory: {hint}")
    for name in CERT_FILES:
        path = kafka.cert_dir / name
        if not path.is_file():
            raise ConfigError(f"KAFKA_CERT_DIR={str(kafka.cert_dir)!r} has no {name}: {hint}")
        try:
            head = path.read_bytes()[:4096]
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        if b"-----BEGIN " not in head:
            raise ConfigError(f"{path} is not a PEM file: {hint}")


class _ErrorCollector:
    """Keeps the latest librdkafka error reported through `error_cb`."""

    def __init__(self) -> None:
        self.last: KafkaError | None = None
        self._lock = threading.Lock()

    def __call__(self, error: KafkaError) -> None:
        with self._lock:
            self.last = error


def connect_check(kafka: KafkaSettings, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fetch cluster metadata once; raise ServiceUnavailable with the reason if we cannot."""
    errors = _ErrorCollector()
    admin = AdminClient(client_config(kafka, error_cb=errors, logger=_quiet_logger()))
    deadline = time.monotonic() + timeout
    failure: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            return
        except KafkaException as exc:
            failure = exc
            if errors.last is not None and _is_fatal_auth(errors.last):
                break
    reason = errors.last.str() if errors.last is not None else str(failure)
    transport = "SSL" if kafka.use_ssl else "plaintext"
    raise ServiceUnavailable(
        f"cannot use Kafka at KAFKA_ENDPOINT={kafka.endpoint} over {transport}: {reason}. "
        f"{_advice(reason, kafka)}"
    )


def _is_fatal_auth(error: KafkaError) -> bool:
    text = error.str().lower()
    return "ssl" in text or "certificate" in text or "authentication" in text


def _advice(reason: str, kafka: KafkaSettings) -> str:
    text = reason.lower()
    if "certificate" in text or "ssl" in text or "handshake" in text:
        return (
            f"Check that the files in KAFKA_CERT_DIR={kafka.cert_dir} belong to this Kafka "
            "service, and that KAFKA_USE_SSL matches the listener"
        )
    return "Check that the broker is running and the host and port are right"


def _quiet_logger() -> logging.Logger:
    """librdkafka logs each retry; route them to a logger that only keeps warnings and up."""
    quiet = logging.getLogger("wac.kafka.librdkafka")
    quiet.setLevel(logging.CRITICAL)
    return quiet


def ensure_topic(kafka: KafkaSettings, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Create the results topic with `kafka.partitions` partitions when it does not exist."""
    admin = AdminClient(client_config(kafka, logger=_quiet_logger()))
    metadata = admin.list_topics(timeout=timeout)
    if kafka.topic in metadata.topics and metadata.topics[kafka.topic].error is None:
        return
    futures = admin.create_topics(
        [NewTopic(kafka.topic, num_partitions=kafka.partitions, replication_factor=-1)],
        request_timeout=timeout,
    )
    try:
        futures[kafka.topic].result(timeout)
        log.info("created topic %s with %d partitions", kafka.topic, kafka.partitions)
    except KafkaException as exc:
        error = exc.args[0]
        if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return
        raise ServiceUnavailable(
            f"topic {kafka.topic!r} does not exist and could not be created: {error}. "
            "Create it with your provider's tools, or grant this client CreateTopics"
        ) from None
