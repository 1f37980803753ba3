"""Fixtures every test may use.

The tests run on the local services (`wac services up`) but never on the user's data
there: the session gets a database of its own (`wac_test_<session>`, created and
migrated at its start, dropped at its end) and topics and groups of its own (named
`wac-test-<session>...`, deleted at its end), so the default database and topics that
`make up` uses are left as they were. `tests/test_user_data.py`, run last, checks it.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.kafka_cluster import KafkaCluster, running_cluster
from tests.support.servers import free_port, http_site
from tests.support.session import (
    TEST_DATABASE,
    TEST_TOPIC_PREFIX,
    create_database,
    delete_topics,
    drop_database,
    drop_stale_databases,
)
from tests.support.user_data import UserData, take

if TYPE_CHECKING:
    from wac.localservices import LocalServices

USER_DATA = pytest.StashKey[UserData]()
GUARD = "tests/test_user_data.py"


def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    """The check of the user's data runs after every other test."""
    items.sort(key=lambda item: item.nodeid.startswith(GUARD))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Record the user's data before any test runs, when the check will run and the local
    services are up (otherwise `local_services` records it as it starts them)."""
    if not any(item.nodeid.startswith(GUARD) for item in session.items):
        return
    from wac.localservices import LocalServices

    local = LocalServices()
    if all(s.running for s in local.status()):
        session.config.stash[USER_DATA] = take(local.env())


@pytest.fixture(scope="session")
def local_services(request: pytest.FixtureRequest) -> LocalServices:
    """The local services, started once (idempotent)."""
    from wac.localservices import LocalServices

    local = LocalServices()
    local.up()
    if USER_DATA not in request.config.stash:
        request.config.stash[USER_DATA] = take(local.env())
    return local


@pytest.fixture(scope="session")
def user_data_before(request: pytest.FixtureRequest, local_services: LocalServices) -> UserData:
    """The user's data on the local services before the first test ran."""
    return request.config.stash[USER_DATA]


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    with http_site() as base:
        yield base


@pytest.fixture(scope="session")
def services_env(local_services: LocalServices) -> Iterator[dict[str, str]]:
    """The local services' env as `wac services env` prints it, but with the session's
    own database (migrated) and default topic and group, never the user's."""
    import psycopg

    from wac.db.migrate import migrate

    user_env = local_services.env()
    drop_stale_databases(user_env["POSTGRES_ENDPOINT"], time.time() - 86400)
    url = create_database(user_env["POSTGRES_ENDPOINT"], TEST_DATABASE)
    with psycopg.connect(url) as conn:
        migrate(conn)
    env = {
        **user_env,
        "POSTGRES_ENDPOINT": url,
        "KAFKA_TOPIC": TEST_TOPIC_PREFIX,
        "KAFKA_GROUP_ID": f"{TEST_TOPIC_PREFIX}-group",
    }
    try:
        yield env
    finally:
        delete_topics(user_env, TEST_TOPIC_PREFIX, time.time() - 86400)
        drop_database(user_env["POSTGRES_ENDPOINT"], TEST_DATABASE)


@pytest.fixture
def isolated_env(services_env: dict[str, str]) -> dict[str, str]:
    """Environment for a child `wac` process: local services, the session's database, a
    topic and group of its own."""
    suffix = uuid.uuid4().hex[:10]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    env.update(services_env)
    env["KAFKA_TOPIC"] = f"{TEST_TOPIC_PREFIX}-{suffix}"
    env["KAFKA_GROUP_ID"] = f"{TEST_TOPIC_PREFIX}-group-{suffix}"
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
