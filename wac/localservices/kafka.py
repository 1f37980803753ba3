"""A single-node Apache Kafka (KRaft, broker + controller) on 127.0.0.1.

Three listeners: PLAINTEXT (``WAC_KAFKA_PORT``, default 19092) for tools, SSL (+1) with
``ssl.client.auth=required`` and PEM key/trust stores, and CONTROLLER (+2). The jars come from
Maven Central through ``kafka_files/pom.xml`` (package data) and are cached in
``<home>/kafka/libs``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wac.localservices.certs import CertFiles
from wac.localservices.errors import ServiceError
from wac.localservices.paths import Paths, Settings
from wac.localservices.proc import (
    alive_matching,
    how_it_ended,
    lines_since,
    make_dir,
    port_free,
    port_open,
    read_pid,
    remember_child,
    size_of,
    tail,
    terminate,
    wait_gone,
    with_log_tail,
    write_private,
)
from wac.localservices.system import java_binary, maven_binary

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient

HOST = "127.0.0.1"
# A line of kafka.log (log4j2.xml: "[time] LEVEL message (logger)") that tells an error.
_LOG_ERROR = re.compile(r"^\[[^\]]*\] (ERROR|FATAL) ")
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0

# librdkafka's own log lines (connection refused while starting, ...) go here, not to stderr.
_rdkafka_log = logging.getLogger("wac.localservices.rdkafka")
_rdkafka_log.addHandler(logging.NullHandler())


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class KafkaService:
    name = "kafka"

    def __init__(self, paths: Paths, settings: Settings) -> None:
        self.paths = paths
        self.settings = settings
        self._log_start = 0  # size of kafka.log when this process last started the broker

    # ----------------------------------------------------------------- endpoints
    @property
    def ssl_endpoint(self) -> str:
        return f"{HOST}:{self.settings.kafka_ssl_port}"

    @property
    def plaintext_endpoint(self) -> str:
        return f"{HOST}:{self.settings.kafka_port}"

    @property
    def log_path(self) -> Path:
        return self.paths.kafka_log

    def client_config(self, certs: CertFiles) -> dict[str, Any]:
        """confluent-kafka settings for the SSL listener with our client certificate."""
        return {
            "bootstrap.servers": self.ssl_endpoint,
            "security.protocol": "SSL",
            "ssl.ca.location": str(certs.client_ca),
            "ssl.certificate.location": str(certs.client_cert),
            "ssl.key.location": str(certs.client_key),
            "logger": _rdkafka_log,
        }

    # ----------------------------------------------------------------- process
    def _needles(self) -> list[str]:
        return [MAIN_CLASS, str(self.paths.kafka_properties)]

    def pid(self) -> int | None:
        """The broker's pid when it runs (a stale pid file counts as not running)."""
        pid = read_pid(self.paths.kafka_pid)
        return pid if alive_matching(pid, self._needles()) else None

    def running(self) -> bool:
        return self.pid() is not None

    # ----------------------------------------------------------------- jars
    def _pom_stamp(self) -> str | None:
        try:
            return hashlib.sha256(self.paths.kafka_pom.read_bytes()).hexdigest()
        except OSError:
            return None

    def _jars_present(self) -> bool:
        return any(self.paths.kafka_libs.glob("kafka_2.13-*.jar"))

    def jars_ready(self) -> bool:
        stamp = self._pom_stamp()
        if stamp is None:  # installed without the repo: use whatever is cached
            return self._jars_present()
        try:
            cached = (self.paths.kafka_libs / ".pom-sha256").read_text().strip()
        except OSError:
            return False
        return cached == stamp and self._jars_present()

    def fetch_jars(self) -> None:
        """Copy Kafka's runtime jars into ``<home>/kafka/libs`` (Maven's cache first)."""
        if self.jars_ready():
            return
        pom = self.paths.kafka_pom
        stamp = self._pom_stamp()
        if stamp is None:
            raise ServiceError(
                f"Kafka's jars are not in {self.paths.kafka_libs} and {pom} is missing, so they "
                "cannot be fetched: wac's package data is incomplete; reinstall wac."
            )
        make_dir(self.paths.kafka, 0o700)
        log = self.paths.kafka / "mvn.log"
        mvn = maven_binary(log)
        staging = self.paths.kafka / "libs.tmp"
        base = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
        ]
        rc = 1
        with log.open("wb") as out:
            # offline first (no network needed once ~/.m2 has everything), then online
            for argv in ([*base[:1], "-o", *base[1:]], base):
                shutil.rmtree(staging, ignore_errors=True)
                out.write(f"$ {' '.join(argv)}\n".encode())
                out.flush()
                rc = subprocess.run(
                    argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                ).returncode
                if rc == 0:
                    break
        if rc != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            raise ServiceError(
                with_log_tail(
                    f"Maven could not fetch Kafka's jars (exit {rc}) with {pom}. It needs "
                    "Maven Central once; afterwards ~/.m2 serves them offline.",
                    log,
                )
            )
        (staging / ".pom-sha256").write_text(stamp + "\n")
        shutil.rmtree(self.paths.kafka_libs, ignore_errors=True)
        os.replace(staging, self.paths.kafka_libs)

    # ----------------------------------------------------------------- config
    def _properties(self, certs: CertFiles) -> str:
        header = "# Generated by wac.localservices on every start; edits are overwritten.\n"
        return header + "".join(f"{line}\n" for line in self._properties_lines(certs))

    def _properties_lines(self, certs: CertFiles | None = None) -> list[str]:
        s = self.settings
        plain, ssl, ctrl = s.kafka_port, s.kafka_ssl_port, s.kafka_controller_port
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{HOST}:{ctrl}",
            "listeners": f"PLAINTEXT://{HOST}:{plain},SSL://{HOST}:{ssl},CONTROLLER://{HOST}:{ctrl}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{plain},SSL://{HOST}:{ssl}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.paths.kafka_data),
            "num.partitions": str(s.partitions),
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # after a kill -9 the new broker waits for the old session to expire: keep it short
            "broker.heartbeat.interval.ms": "500",
            "broker.session.timeout.ms": "3000",
            "num.network.threads": "3",
            "num.io.threads": "4",
            "log.retention.hours": "24",
            "log.segment.bytes": str(256 * 1024 * 1024),
            # SSL listener: PEM stores, no passwords, client certificates required
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(certs.broker_keystore) if certs else "",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(certs.ca_cert) if certs else "",
            "ssl.client.auth": "required",
            "ssl.endpoint.identification.algorithm": "",
        }
        return [f"{key}={value}" for key, value in lines.items()]

    def _jvm(self, java: str) -> list[str]:
        heap = self.settings.kafka_heap
        return [
            java,
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.paths.kafka}",
            f"-Dlog4j2.configurationFile={self.paths.kafka_log4j}",
            f"-Dwac.kafka.logfile={self.paths.kafka_log}",
            "-cp",
            f"{self.paths.kafka_libs}/*",
        ]

    def _format(self, java: str) -> None:
        """Format the KRaft log dir once (``--standalone``: this node is the only voter)."""
        data = self.paths.kafka_data
        if (data / "meta.properties").exists():
            return
        shutil.rmtree(data, ignore_errors=True)  # a half-made dir without meta.properties
        try:
            cluster_id = self.paths.kafka_cluster_id.read_text().strip()
        except OSError:
            cluster_id = ""
        if not cluster_id:
            cluster_id = new_cluster_id()
            write_private(self.paths.kafka_cluster_id, cluster_id + "\n", 0o644)
        log = self.paths.kafka / "format.log"
        argv = [
            *self._jvm(java),
            STORAGE_TOOL,
            "format",
            "-t",
            cluster_id,
            "-c",
            str(self.paths.kafka_properties),
            "--standalone",
        ]
        with log.open("wb") as out:
            rc = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            ).returncode
        if rc != 0 or not (data / "meta.properties").exists():
            raise ServiceError(
                with_log_tail(f"Formatting Kafka's log dir {data} failed (exit {rc}).", log)
            )

    # ----------------------------------------------------------------- lifecycle
    def start(self, certs: CertFiles, restart_for_new_certs: bool = False) -> None:
        """Start the broker unless it runs, wait for SSL metadata, create the topic."""
        pid = self.launch(certs, restart_for_new_certs)
        admin = self.wait_ready(certs, pid, START_TIMEOUT)
        self.ensure_topic(certs, self.settings.topic, self.settings.partitions, admin)

    def launch(self, certs: CertFiles, restart_for_new_certs: bool = False) -> int:
        """Start the broker process unless it runs (no waiting); returns its pid."""
        pid = self.pid()
        if pid is not None and restart_for_new_certs:
            self.stop()
            pid = None
        if pid is not None:
            self._check_running_ports(pid)
            return pid
        ended = read_pid(self.paths.kafka_pid)
        if ended is not None:
            # A broker that ended by itself may still be tearing down: its data folder's
            # lock is held until its last thread is gone.
            wait_gone(ended, self._needles(), STOP_TIMEOUT)
        with contextlib.suppress(FileNotFoundError):
            self.paths.kafka_pid.unlink()  # stale
        self.fetch_jars()
        make_dir(self.paths.kafka, 0o700)
        java = java_binary(self.paths.kafka / "apt.log")
        self._check_ports()
        write_private(self.paths.kafka_properties, self._properties(certs), 0o600)
        self._format(java)
        self._log_start = size_of(self.paths.kafka_log)
        with self.paths.kafka_out.open("wb") as out:  # this run only; kafka.log keeps history
            out.write(f"\n=== wac: starting Kafka at {time.strftime('%F %T')}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                [*self._jvm(java), MAIN_CLASS, str(self.paths.kafka_properties)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.paths.kafka,
                start_new_session=True,
            )
        remember_child(proc)
        write_private(self.paths.kafka_pid, f"{proc.pid}\n", 0o644)
        return proc.pid

    def _check_running_ports(self, pid: int) -> None:
        """A running broker must listen where the settings say (ports come from the env)."""
        try:
            text = self.paths.kafka_properties.read_text()
        except OSError:
            return
        running = next((ln for ln in text.splitlines() if ln.startswith("listeners=")), "")
        wanted = next(ln for ln in self._properties_lines() if ln.startswith("listeners="))
        if running and running != wanted:
            raise ServiceError(
                f"Kafka is already running (pid {pid}) with {running}, but the current "
                f"settings want {wanted} (WAC_KAFKA_PORT changed?). Stop it first "
                "(`wac services down`), then start it again."
            )

    def _check_ports(self) -> None:
        s = self.settings
        for label, port in (
            ("plaintext", s.kafka_port),
            ("SSL", s.kafka_ssl_port),
            ("controller", s.kafka_controller_port),
        ):
            if not port_free(HOST, port):
                raise ServiceError(
                    f"Cannot start Kafka: its {label} port {HOST}:{port} is already in use by "
                    "another process. Stop that process, or choose other ports with "
                    "WAC_KAFKA_PORT (plaintext; SSL is +1, controller +2)."
                )

    def _fail(self, message: str) -> ServiceError:
        """The error of a start that failed, with what the broker said about it.

        The JVM's own output (kafka.out, this start only: a JVM that dies early, for a
        bad classpath or too little memory, writes only there), then the first error
        lines the broker logged since this start (its cause: what follows an error in
        kafka.log is dozens of lines of shutting down) and the last lines it logged.
        """
        parts = [message]
        out = tail(self.paths.kafka_out, 20)
        out_lines = [ln for ln in out.splitlines() if ln.strip() and not ln.startswith("===")]
        if out_lines:
            parts.append(f"Last lines of {self.paths.kafka_out} (the JVM's output):")
            parts += out_lines
        else:
            parts.append(f"(no output from the JVM in {self.paths.kafka_out})")
        logged = lines_since(self.paths.kafka_log, self._log_start)
        errors = _first_errors(logged)
        if errors:
            parts.append(f"First errors in {self.paths.kafka_log} since this start:")
            parts += errors
        if logged:
            parts.append(f"Last lines of {self.paths.kafka_log}:")
            parts += logged[-10:]
        return ServiceError("\n".join(parts))

    def wait_ready(self, certs: CertFiles, pid: int, timeout: float) -> AdminClient:
        """Wait until the SSL listener answers a metadata request made with our client cert.

        Returns the connected admin client (reusable for :meth:`ensure_topic`).
        """
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        port = self.settings.kafka_ssl_port
        while not port_open(HOST, port, 0.5):
            self._still_starting(
                pid,
                deadline,
                f"Kafka (pid {pid}) did not open its SSL port {HOST}:{port} "
                f"within {timeout:.0f} s.",
            )
            time.sleep(0.1)
        admin = AdminClient(self.client_config(certs))
        last: str = "no answer"
        while True:
            try:
                md = admin.list_topics(timeout=max(0.5, min(5.0, deadline - time.monotonic())))
                if md.brokers:
                    return admin
            except KafkaException as exc:
                last = str(exc.args[0] if exc.args else exc)
            self._still_starting(
                pid,
                deadline,
                f"Kafka's SSL listener {self.ssl_endpoint} did not answer a metadata request "
                f"with the client certificate within {timeout:.0f} s (last error: {last}).",
            )
            time.sleep(0.2)

    def _still_starting(self, pid: int, deadline: float, too_late: str) -> None:
        """Raise when the broker exited, or when `deadline` passed (saying `too_late`)."""
        if not alive_matching(pid, self._needles()):
            how = how_it_ended(pid) or "exited"
            raise self._fail(f"Kafka (pid {pid}) {how} during start-up.")
        if time.monotonic() >= deadline:
            raise self._fail(too_late)

    def ensure_topic(
        self, certs: CertFiles, topic: str, partitions: int, admin: AdminClient | None = None
    ) -> None:
        """Create ``topic`` if absent, then wait until every partition has a leader."""
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import AdminClient
        from confluent_kafka.cimpl import NewTopic

        if admin is None:
            admin = AdminClient(self.client_config(certs))

        def leaders_ok() -> bool:
            md = admin.list_topics(timeout=10)
            info = md.topics.get(topic)
            if info is None or info.error is not None or not info.partitions:
                return False
            return all(p.leader >= 0 for p in info.partitions.values())

        if leaders_ok():
            return
        futures = admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1)],
            operation_timeout=30,
            request_timeout=30,
        )
        try:
            futures[topic].result()
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if not (isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS):
                raise ServiceError(f"Creating Kafka topic {topic!r} failed: {err}") from None
        deadline = time.monotonic() + 30
        while not leaders_ok():
            if time.monotonic() >= deadline:
                raise ServiceError(
                    with_log_tail(
                        f"Kafka topic {topic!r} was created but its partitions have no leader "
                        "after 30 s.",
                        self.paths.kafka_log,
                    )
                )
            time.sleep(0.1)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (controlled shutdown), wait, SIGKILL after ``timeout``. Idempotent."""
        pid = self.pid()
        if pid is not None:
            terminate(pid, self._needles(), timeout)
            wait_gone(pid, self._needles(), 5)
        with contextlib.suppress(FileNotFoundError):
            self.paths.kafka_pid.unlink()


def _first_errors(lines: list[str], most: int = 5) -> list[str]:
    """The first error lines of a piece of kafka.log, each with the exception it names
    (the lines after it, without the stack frames)."""
    found: list[str] = []
    for index, line in enumerate(lines):
        if not _LOG_ERROR.search(line):
            continue
        found.append(line)
        for follow in lines[index + 1 : index + 4]:
            if follow.startswith("[") or not follow.strip():
                break
            if not follow.lstrip().startswith("at "):
                found.append(follow)
        if sum(1 for ln in found if _LOG_ERROR.search(ln)) >= most:
            break
    return found
