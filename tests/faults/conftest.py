"""Fault scenarios run on a private Kafka and PostgreSQL (own home, own ports).

Stopping and killing services here never disturbs the shared local services that the
other tests use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from unittest import mock

import psycopg
import pytest

from wac.db.migrate import migrate
from wac.localservices import LocalServices
from wac.localservices.proc import port_free

KAFKA_PORT = 28092  # plaintext; SSL +1, controller +2 (below the ephemeral range)
POSTGRES_PORT = 28432


@pytest.fixture(scope="session")
def fault_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServices]:
    ports = {
        "WAC_KAFKA_PORT": str(KAFKA_PORT),
        "WAC_POSTGRES_PORT": str(POSTGRES_PORT),
        "KAFKA_PARTITIONS": "6",
    }
    home = tmp_path_factory.mktemp("fault-services")
    with mock.patch.dict(os.environ, ports):
        services = LocalServices(home=home)
        if not services.status()[0].running:
            busy = [p for p in (KAFKA_PORT, KAFKA_PORT + 1, KAFKA_PORT + 2, POSTGRES_PORT)]
            # As the servers bind (SO_REUSEADDR): a port only in TIME_WAIT is free.
            busy = [p for p in busy if not port_free("127.0.0.1", p)]
            assert not busy, f"ports {busy} are taken: the fault suite needs them"
        services.up()
    try:
        yield services
    finally:
        with mock.patch.dict(os.environ, ports):
            services.down()


@pytest.fixture(scope="session")
def fault_env(fault_services: LocalServices) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    env.update(fault_services.env())
    env["WAC_LOG_LEVEL"] = "INFO"
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        migrate(conn)
    return env
