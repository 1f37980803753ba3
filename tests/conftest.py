from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.kafka_cluster import KafkaCluster, running_cluster
from tests.support.servers import free_port, http_site

if TYPE_CHECKING:
    from wac.localservices import LocalServices


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    with http_site() as base:
        yield base


@pytest.fixture(scope="session")
def services_env() -> dict[str, str]:
    """The local services, started once (idempotent); their env as `wac services env` prints."""
    import psycopg

    from wac.db.migrate import migrate
    from wac.localservices import LocalServices

    local = LocalServices()
    local.up()
    env = local.env()
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        migrate(conn)
    return env


@pytest.fixture
def isolated_env(services_env: dict[str, str]) -> dict[str, str]:
    """Environment for a child `wac` process: local services, a topic and group of its own."""
    suffix = uuid.uuid4().hex[:10]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    env.update(services_env)
    env["KAFKA_TOPIC"] = f"wac-test-{suffix}"
    env["KAFKA_GROUP_ID"] = f"wac-test-group-{suffix}"
    env["KAFKA_PARTITIONS"] = "3"
    env["WAC_LOG_LEVEL"] = "INFO"
    return env


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Three Kafka brokers of the tests' own (plaintext, ports above WAC_KAFKA_PORT),
    started once per session: tests kill and restart them."""
    with running_cluster(tmp_path_factory.mktemp("kafka-cluster")) as cluster:
        yield cluster


@pytest.fixture
def private_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: dict[str, str]
) -> Iterator[tuple[LocalServices, dict[str, str]]]:
    """A PostgreSQL of the test's own (stopping it disturbs no other test); shared Kafka."""
    import psycopg

    from wac.db.migrate import migrate
    from wac.localservices import LocalServices

    monkeypatch.setenv("WAC_POSTGRES_PORT", str(free_port()))
    services = LocalServices(home=tmp_path / "home")
    try:
        services.start_postgres()
        env = {**isolated_env, "POSTGRES_ENDPOINT": services.env()["POSTGRES_ENDPOINT"]}
        with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
            migrate(conn)
        yield services, env
    finally:
        services.stop_postgres()
        base = services.postgres.layout().base
        if str(base).startswith("/var/lib/wac/"):  # root fallback outside tmp_path
            shutil.rmtree(base, ignore_errors=True)
