"""Kafka clients (confluent-kafka) configured from the settings, checked at start.

`client_config` maps the seed's variables onto librdkafka; `connect_check` turns a
broker that cannot be reached or refuses our certificate into one clear
ServiceUnavailable instead of librdkafka's endless retries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

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
    """ca.pem, service.cert and service.key exist, parse, and the key is the certificate's.

    Checked here, with `cryptography`, because librdkafka only says "PEM lib" or
    "Private key check failed" and raises from the client's constructor.
    """
    hint = (
        "put your Kafka service's ca.pem, service.cert and service.key there "
        f"(or set KAFKA_USE_SSL=false for a plaintext broker); {LOCAL_SERVICES_HINT}"
    )
    if not kafka.cert_dir.is_dir():
        raise ConfigError(f"KAFKA_CERT_DIR={str(kafka.cert_dir)!r} is not a directory: {hint}")
    contents: dict[str, bytes] = {}
    for name in CERT_FILES:
        path = kafka.cert_dir / name
        if not path.is_file():
            raise ConfigError(f"KAFKA_CERT_DIR={str(kafka.cert_dir)!r} has no {name}: {hint}")
        try:
            contents[name] = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        if b"-----BEGIN " not in contents[name][:4096]:
            raise ConfigError(f"{path} is not a PEM file: {hint}")
        if contents[name].count(b"-----BEGIN ") != contents[name].count(b"-----END "):
            raise ConfigError(
                f"{path} is cut short (a -----BEGIN line without its -----END line; "
                "KAFKA_CERT_DIR): download it again from your Kafka service"
            )
    _certificates(kafka.ca_file, contents["ca.pem"], "the CA certificate of your Kafka service")
    cert = _certificates(
        kafka.cert_file, contents["service.cert"], "the access certificate of your Kafka service"
    )[0]
    key = _private_key(kafka.key_file, contents["service.key"])
    if _public_bytes(key.public_key()) != _public_bytes(cert.public_key()):
        raise ConfigError(
            f"{kafka.key_file} does not match {kafka.cert_file} (KAFKA_CERT_DIR): the key "
            "belongs to another certificate; put the service.key issued with this "
            "service.cert (download both again from your Kafka service)"
        )


def _certificates(path: Path, data: bytes, what: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigError(
            f"{path} is not a PEM certificate that can be read (KAFKA_CERT_DIR): put {what} "
            "there, as downloaded (-----BEGIN CERTIFICATE-----)"
        ) from None


def _private_key(path: Path, data: bytes) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:  # cryptography's word for "encrypted, and no password given"
        raise ConfigError(
            f"{path} is encrypted (KAFKA_CERT_DIR): wac needs the key unencrypted; "
            f"decrypt it with `openssl pkey -in ENCRYPTED.key -out {path}`"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(
            f"{path} is not a PEM private key that can be read (KAFKA_CERT_DIR): put the "
            "access key of your Kafka service there, as downloaded (-----BEGIN PRIVATE KEY-----)"
        ) from None


def _public_bytes(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class _FailureCollector(logging.Handler):
    """Keeps what librdkafka reports while connecting: `error_cb` events and FAIL logs.

    A refused client certificate only shows in the log (as an SSL alert), never
    through `error_cb`, so both are watched.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.reasons: list[str] = []
        self._lock = threading.Lock()

    def on_error(self, error: KafkaError) -> None:
        with self._lock:
            self.reasons.append(error.str())

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "FAIL" in text or "failed" in text:
            # "[thrd:...]: ssl://host:port/bootstrap: Receive failed: ..." → the part after.
            with self._lock:
                self.reasons.append(text.split("/bootstrap: ", 1)[-1].split("]: ", 1)[-1])

    def best_reason(self) -> str | None:
        with self._lock:
            for reason in reversed(self.reasons):
                if _diagnose(reason) is not None:
                    return reason
            return self.reasons[-1] if self.reasons else None


def connect_check(kafka: KafkaSettings, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Fetch cluster metadata once; raise ServiceUnavailable with the reason if we cannot."""
    collector = _FailureCollector()
    capture = logging.getLogger(f"wac.runtime.kafka.connect-check.{id(collector)}")
    capture.propagate = False
    capture.setLevel(logging.WARNING)
    capture.addHandler(collector)
    try:
        admin = AdminClient(client_config(kafka, error_cb=collector.on_error, logger=capture))
    except KafkaException as exc:  # what librdkafka refuses that the checks above let by
        capture.removeHandler(collector)
        error = exc.args[0] if exc.args else exc
        refused = error.str() if isinstance(error, KafkaError) else str(error)
        raise ConfigError(
            f"Kafka client settings refused: {refused}. Check the files in "
            f"KAFKA_CERT_DIR={kafka.cert_dir} and KAFKA_ENDPOINT={kafka.endpoint}"
        ) from None
    deadline = time.monotonic() + timeout
    failure: Exception | None = None
    try:
        while time.monotonic() < deadline:
            try:
                admin.list_topics(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
                return
            except KafkaException as exc:
                failure = exc
                admin.poll(0.1)  # serves the queued log lines and error events
                reason = collector.best_reason()
                if reason is not None and _diagnose(reason) is not None:
                    break  # a certificate or protocol problem will not fix itself
    finally:
        capture.removeHandler(collector)
    reason = collector.best_reason() or str(failure)
    transport = "SSL" if kafka.use_ssl else "plaintext"
    advice = _diagnose(reason) or (
        "Check that the broker is running, that host and port are right, and that "
        f"KAFKA_USE_SSL={'true' if kafka.use_ssl else 'false'} matches that listener"
    )
    raise ServiceUnavailable(
        f"cannot use Kafka at KAFKA_ENDPOINT={kafka.endpoint} over {transport}: {reason}. "
        + advice.format(cert_dir=kafka.cert_dir)
    )


def _diagnose(reason: str) -> str | None:
    """Advice for failures that retrying cannot fix; None for the others."""
    text = reason.lower()
    if (
        "alert bad certificate" in text
        or "certificate required" in text
        or ("unknown ca" in text and "alert" in text)
    ):
        return (
            "The broker refused our client certificate: use the service.cert and service.key "
            "issued for this Kafka service in KAFKA_CERT_DIR={cert_dir}"
        )
    if "certificate verify failed" in text or "broker certificate could not be verified" in text:
        return (
            "The broker's certificate is not signed by KAFKA_CERT_DIR={cert_dir}/ca.pem "
            "(or is for another host name): use this service's CA certificate"
        )
    if any(
        sign in text
        for sign in ("plaintext broker listener", "wrong version number", "packet length too long")
    ):
        return (
            "This port does not speak SSL: use the SSL listener's port, or set "
            "KAFKA_USE_SSL=false for a plaintext listener"
        )
    if "invalid response size" in text or "is the broker ssl" in text:
        return (
            "This port speaks SSL: set KAFKA_USE_SSL=true (and KAFKA_CERT_DIR), or use the "
            "plaintext listener's port"
        )
    return None


def librdkafka_logger() -> logging.Logger:
    """librdkafka logs each retry; route them to a logger that only keeps critical ones.

    Not its FATAL lines: the service reports a fatal error itself, in its own words, once
    (wac.runtime.kafka_fatal).
    """
    quiet = logging.getLogger("wac.runtime.kafka.librdkafka")
    quiet.setLevel(logging.CRITICAL)
    if not any(isinstance(f, _NotFatal) for f in quiet.filters):
        quiet.addFilter(_NotFatal())
    return quiet


class _NotFatal(logging.Filter):
    """Drops librdkafka's log lines of facility FATAL (confluent-kafka logs each one as
    "%s [%s] %s" with the facility first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(args, tuple) and args and args[0] == "FATAL")


def ensure_topic(kafka: KafkaSettings, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Create the results topic with `kafka.partitions` partitions when it does not exist."""
    admin = AdminClient(client_config(kafka, logger=librdkafka_logger()))
    metadata = admin.list_topics(timeout=timeout)
    if kafka.topic in metadata.topics and metadata.topics[kafka.topic].error is None:
        return
    new = NewTopic(kafka.topic, num_partitions=kafka.partitions, replication_factor=-1)
    if create_topic(
        admin,
        new,
        timeout,
        lambda error: (
            f"topic {kafka.topic!r} does not exist and could not be created: {error}. "
            "Create it with your provider's tools, or grant this client CreateTopics"
        ),
    ):
        log.info("created topic %s with %d partitions", kafka.topic, kafka.partitions)


def create_topic(
    admin: AdminClient, new: NewTopic, timeout: float, refusal: Callable[[object], str]
) -> bool:
    """Create the topic `new` describes: True when this call created it, False when it
    exists already; ServiceUnavailable saying `refusal(error)` when it cannot be made."""
    futures = admin.create_topics([new], request_timeout=timeout)
    try:
        futures[new.topic].result(timeout)
    except KafkaException as exc:
        error = exc.args[0]
        if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise ServiceUnavailable(refusal(error)) from None
    return True
