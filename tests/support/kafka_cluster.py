"""A three-node Apache Kafka cluster (KRaft) for the tests that need brokers to die.

Built from the pieces of the local single-node service (`wac.localservices.kafka`): the same
jars, the same JVM command line (its heap from `WAC_KAFKA_HEAP`, here made small), the
same base broker settings, with the cluster's differences on top: three nodes, each
broker and controller (a controller quorum of three), plaintext listeners only, topics
replicated three times with a minimum of two in sync, so one node down keeps serving.

Each node has its own folder laid out like the local service's home (`wac.localservices.paths`),
its Kafka folder holding a link to the cached jars.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from wac.localservices.kafka import HOST, MAIN_CLASS, STORAGE_TOOL, KafkaService, new_cluster_id
from wac.localservices.paths import Paths, Settings, default_home
from wac.localservices.proc import port_free, port_open, tail, write_private
from wac.localservices.system import java_binary

NODES = (1, 2, 3)
NODE_HEAP = "256m"
START_TIMEOUT_S = 180.0
# Settings of the single node that make no sense for a plaintext cluster.
_DROPPED = ("ssl.", "controller.quorum.bootstrap.servers")


class KafkaCluster:
    """Three broker+controller nodes on 127.0.0.1: node n listens on `first_port + 2(n-1)`
    (plaintext) and the port after it (controller)."""

    def __init__(self, folder: Path, first_port: int, heap: str = NODE_HEAP) -> None:
        self.folder = folder
        self.first_port = first_port
        self.heap = heap
        self.cluster_id = new_cluster_id()
        self._local = KafkaService(Paths(default_home()), Settings.from_env())
        self._processes: dict[int, subprocess.Popen[bytes]] = {}

    # ----------------------------------------------------------------- layout
    def port(self, node: int) -> int:
        return self.first_port + 2 * (node - 1)

    def controller_port(self, node: int) -> int:
        return self.port(node) + 1

    @property
    def ports(self) -> list[int]:
        return [p for n in NODES for p in (self.port(n), self.controller_port(n))]

    @property
    def endpoint(self) -> str:
        return ",".join(f"{HOST}:{self.port(n)}" for n in NODES)

    def env(self) -> dict[str, str]:
        """The client settings of the cluster, as `wac services env` gives the local one's."""
        return {"KAFKA_ENDPOINT": self.endpoint, "KAFKA_USE_SSL": "false"}

    def _service(self, node: int) -> KafkaService:
        return KafkaService(Paths(self.folder / f"node{node}"), self._local.settings)

    def log_path(self, node: int) -> Path:
        return self._service(node).paths.kafka_log

    def _properties(self, node: int) -> str:
        base = dict(line.split("=", 1) for line in self._local._properties_lines())
        lines = {k: v for k, v in base.items() if not k.startswith(_DROPPED)}
        voters = ",".join(f"{n}@{HOST}:{self.controller_port(n)}" for n in NODES)
        port, controller = self.port(node), self.controller_port(node)
        lines.update(
            {
                "node.id": str(node),
                "controller.quorum.voters": voters,
                "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller}",
                "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "log.dirs": str(self._service(node).paths.kafka_data),
                "default.replication.factor": "3",
                "min.insync.replicas": "2",
                "offsets.topic.replication.factor": "3",
                "transaction.state.log.replication.factor": "3",
                "transaction.state.log.min.isr": "2",
                "share.coordinator.state.topic.replication.factor": "3",
                "share.coordinator.state.topic.min.isr": "2",
                "num.network.threads": "2",
                "num.io.threads": "2",
            }
        )
        return "".join(f"{key}={value}\n" for key, value in lines.items())

    # ----------------------------------------------------------------- processes
    def _jvm(self, node: int, java: str) -> list[str]:
        with mock.patch.dict(os.environ, {"WAC_KAFKA_HEAP": self.heap}):
            return self._service(node)._jvm(java)

    def _prepare(self, java: str) -> None:
        """Each node's folder, settings and formatted log dir (all three formatted at once)."""
        self._local.fetch_jars()
        formatting = []
        for node in NODES:
            paths = self._service(node).paths
            paths.kafka.mkdir(parents=True, exist_ok=True)
            if not paths.kafka_libs.exists():
                paths.kafka_libs.symlink_to(self._local.paths.kafka_libs)
            write_private(paths.kafka_properties, self._properties(node), 0o600)
            out = (paths.kafka / "format.log").open("wb")
            argv = [
                *self._jvm(node, java),
                STORAGE_TOOL,
                "format",
                "-t",
                self.cluster_id,
                "-c",
                str(paths.kafka_properties),
            ]
            formatting.append((node, subprocess.Popen(argv, stdout=out, stderr=out), out))
        for node, process, out in formatting:
            code = process.wait(120)
            out.close()
            log = self._service(node).paths.kafka / "format.log"
            assert code == 0, f"formatting node {node} failed:\n{tail(log)}"

    def start(self) -> None:
        """Format and start the three nodes; return when every broker serves metadata."""
        busy = [p for p in self.ports if not port_free(HOST, p)]
        assert not busy, f"ports {busy} are taken: the Kafka cluster of the tests needs them"
        java = java_binary(self.folder / "apt.log")
        self._prepare(java)
        for node in NODES:
            self.launch(node)
        self.wait_ready()

    def launch(self, node: int) -> None:
        """Start one node (after a kill, it resumes from its log dir)."""
        assert not self.running(node), f"node {node} runs already"
        service = self._service(node)
        java = java_binary(self.folder / "apt.log")
        with service.paths.kafka_out.open("ab") as out:
            process = subprocess.Popen(
                [*self._jvm(node, java), MAIN_CLASS, str(service.paths.kafka_properties)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=service.paths.kafka,
                start_new_session=True,
            )
        self._processes[node] = process

    def running(self, node: int) -> bool:
        process = self._processes.get(node)
        return process is not None and process.poll() is None

    def kill(self, node: int) -> None:
        """Kill one node (SIGKILL: no controlled shutdown) and wait until it is gone."""
        process = self._processes[node]
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        process.wait(60)

    def kill_all(self) -> None:
        for node in NODES:
            process = self._processes.get(node)
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGKILL)
        for node in NODES:
            process = self._processes.get(node)
            if process is not None:
                process.wait(60)

    def close(self) -> None:
        self.kill_all()

    # ----------------------------------------------------------------- readiness
    def admin(self) -> AdminClient:
        config: dict[str, Any] = {"bootstrap.servers": self.endpoint, "logger": _quiet()}
        return AdminClient(config)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Every running node has its port open and the cluster lists it as a broker."""
        deadline = time.monotonic() + timeout
        running = [n for n in NODES if self.running(n)]
        for node in running:
            while not port_open(HOST, self.port(node), 0.5):
                self._check_alive(node)
                assert time.monotonic() < deadline, self._why(node, "did not open its port")
                time.sleep(0.2)
        admin = self.admin()
        while True:
            with contextlib.suppress(KafkaException):
                brokers = admin.list_topics(timeout=5).brokers
                if set(brokers) >= set(running):
                    return
            for node in running:
                self._check_alive(node)
            assert time.monotonic() < deadline, "the cluster did not list every running broker"
            time.sleep(0.2)

    def wait_in_sync(self, topics: list[str], timeout: float = 120.0) -> None:
        """Every partition of `topics` has a leader and all three replicas in sync."""
        admin = self.admin()
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(KafkaException):
                metadata = admin.list_topics(timeout=5)
                if all(
                    topic in metadata.topics
                    and metadata.topics[topic].partitions
                    and all(
                        p.leader >= 0 and len(p.isrs) == len(NODES)
                        for p in metadata.topics[topic].partitions.values()
                    )
                    for topic in topics
                ):
                    return
            assert time.monotonic() < deadline, f"{topics} not fully in sync after {timeout} s"
            time.sleep(0.3)

    def create_topic(self, name: str, partitions: int, **config: str) -> None:
        """A topic replicated on all three nodes, at least two in sync to accept a write."""
        settings = {"min.insync.replicas": "2", **config}
        admin = self.admin()  # kept: the futures fail if their client is destroyed
        futures = admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=3, config=settings)],
            operation_timeout=30,
            request_timeout=30,
        )
        futures[name].result(60)
        self.wait_in_sync([name])

    def _check_alive(self, node: int) -> None:
        assert self.running(node), self._why(node, "exited")

    def _why(self, node: int, what: str) -> str:
        service = self._service(node)
        logs = f"{tail(service.paths.kafka_out)}\n{tail(service.paths.kafka_log)}"
        return f"Kafka node {node} {what}:\n{logs}"


def _quiet() -> logging.Logger:
    """librdkafka's complaints about the brokers the tests kill go nowhere."""
    quiet = logging.getLogger("tests.kafka_cluster.librdkafka")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    return quiet


def first_port() -> int:
    """Ten above `WAC_KAFKA_PORT`: clear of the local services' three ports."""
    return Settings.from_env().kafka_port + 10


@contextlib.contextmanager
def running_cluster(folder: Path) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(folder, first_port())
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()
