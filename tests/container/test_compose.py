"""docker-compose.yml (all in one) and docker-compose.managed.yml (the seed's setup), run with
podman-compose as a user runs them, from a folder holding what a fresh clone has.

podman 4.3 (Debian bookworm's) has no `wait --condition=healthy`, so podman-compose starts
services in dependency order without waiting for health, and without systemd nothing runs
healthchecks on a timer: the test starts Kafka and PostgreSQL first and runs their
healthchecks itself until they pass, as Docker's `depends_on: service_healthy` would."""

from __future__ import annotations

import json
import shutil
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from tests.support.containers import (
    ROOT,
    Compose,
    podman,
    process_uid,
    run_script,
    with_root_cert,
    work_folder,
)
from tests.support.processes import wait_for
from tests.support.servers import free_port
from tests.support.session import TEST_TOPIC_PREFIX
from tests.support.store import own_schema, query

pytestmark = [pytest.mark.container, pytest.mark.timeout(1200)]

FILES = ("docker-compose.yml", "docker-compose.managed.yml", "targets.example.yaml")
WAC_SERVICES = ("store", "monitor", "web", "alert")


@pytest.fixture(scope="session")
def images() -> None:
    print(run_script("build-image.sh"))
    print(run_script("standins.sh"))


def clone(folder: Path) -> Path:
    folder.mkdir()
    for name in FILES:
        shutil.copyfile(ROOT / name, folder / name)
    return folder


def http_get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def test_compose_kafka_is_the_local_services_version() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    pom = (ROOT / "wac" / "localservices" / "kafka_files" / "pom.xml").read_text()
    version = pom.split("<kafka.version>")[1].split("</kafka.version>")[0]
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{version}"
    builders = [name for name, s in compose["services"].items() if "build" in s]
    assert builders == ["store"]  # one image, built once
    assert {compose["services"][name]["image"] for name in WAC_SERVICES} == {
        "${WAC_IMAGE:-wac:latest}"
    }


def test_all_in_one(images: None, tmp_path: Path) -> None:
    folder = clone(tmp_path / "wac")
    (folder / "targets.test.yaml").write_text(
        "defaults: {interval: 1s, timeout: 2s}\n"
        "targets:\n  - {name: dashboard, url: 'http://web:8080/healthz'}\n"
    )
    port = free_port()
    compose = Compose(
        folder,
        f"wac-test-{uuid.uuid4().hex[:8]}",
        ["docker-compose.yml"],
        {"WAC_TARGETS": "./targets.test.yaml", "WAC_WEB_PUBLISH": f"127.0.0.1:{port}"},
    )

    def rows() -> int:
        done = podman(
            "exec", compose.container("postgres"),
            "psql", "-U", "wac", "-d", "wac", "-tAc", "SELECT count(*) FROM checks",
            check=False,
        )  # fmt: skip
        return int(done.stdout) if done.returncode == 0 else 0

    try:
        compose("up", "-d", "kafka", "postgres")
        wait_for(lambda: compose.healthy("postgres"), 180, "postgres healthy", 2)
        wait_for(lambda: compose.healthy("kafka"), 180, "kafka healthy", 2)
        compose("up", "-d")
        assert compose.containers() == sorted(
            compose.container(s) for s in ("kafka", "postgres", *WAC_SERVICES)
        )
        wait_for(lambda: rows() >= 5, 180, "5 rows in PostgreSQL", 1)
        assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        overview = json.loads(http_get(f"http://127.0.0.1:{port}/api/overview")[1])
        assert [(t["target"], t["status"]) for t in overview["targets"]] == [("dashboard", "up")]
        for service in WAC_SERVICES:
            checked = podman("exec", compose.container(service), "wac-healthcheck").stdout
            assert "answered 200" in checked, (service, checked)
            assert compose.healthy(service), service
            assert process_uid(compose.container(service)) == 10001
        before = rows()

        compose("down")  # the data volumes stay
        compose("up", "-d", "postgres")
        wait_for(lambda: compose.healthy("postgres"), 120, "postgres healthy again", 1)
        assert rows() >= before
        print(f"compose all in one: {before} rows before down, {rows()} after up")
    except BaseException:
        print(compose.logs())
        raise
    finally:
        compose("down", "-v")


def test_managed_services_from_env_file_and_certs(
    images: None, site: str, services_env: dict[str, str], tmp_path: Path
) -> None:
    """The seed's setup: .env and ./certs (0600 key of the host user), the project's local
    Kafka (SSL) and PostgreSQL standing for the managed ones; the containers use the host's
    network to reach them (a test-only override)."""
    run_id = uuid.uuid4().hex[:8]
    folder = clone(tmp_path / "wac")
    with own_schema(services_env) as db_env:
        settings = {
            "KAFKA_ENDPOINT": services_env["KAFKA_ENDPOINT"],
            "KAFKA_TOPIC": f"{TEST_TOPIC_PREFIX}-managed-{run_id}",
            "KAFKA_GROUP_ID": f"{TEST_TOPIC_PREFIX}-managed-{run_id}",
            "KAFKA_PARTITIONS": "3",
            "POSTGRES_ENDPOINT": with_root_cert(db_env["POSTGRES_ENDPOINT"], "certs/ca.pem"),
        }
        work_folder(tmp_path / "user", Path(services_env["KAFKA_CERT_DIR"]), settings, (1000, 1000))
        for name in (".env", "certs"):
            shutil.move(tmp_path / "user" / name, folder / name)
        (folder / "targets.test.yaml").write_text(
            f"defaults: {{interval: 1s}}\ntargets:\n  - {{name: local, url: '{site}/ok'}}\n"
        )
        web_port = free_port()
        host_network = {
            "services": {
                name: {
                    "network_mode": "host",
                    "environment": {
                        "WAC_MONITOR_METRICS_PORT": str(free_port()),
                        "WAC_STORE_METRICS_PORT": str(free_port()),
                        "WAC_ALERT_METRICS_PORT": str(free_port()),
                        "WAC_WEB_PORT": str(web_port),
                    },
                }
                for name in WAC_SERVICES
            }
        }
        host_network["services"]["web"]["command"] = ["web", "--host", "127.0.0.1"]
        host_network["services"]["web"]["ports"] = []
        (folder / "host-network.test.yml").write_text(yaml.safe_dump(host_network))
        compose = Compose(
            folder,
            f"wac-managed-{run_id}",
            ["docker-compose.yml", "docker-compose.managed.yml", "host-network.test.yml"],
            {"WAC_TARGETS": "./targets.test.yaml"},
        )
        try:
            compose("up", "-d")
            assert compose.containers() == sorted(compose.container(s) for s in WAC_SERVICES)
            wait_for(
                lambda: query(db_env, "SELECT count(*) FROM checks")[0][0] >= 5, 180, "5 rows", 1
            )
            assert http_get(f"http://127.0.0.1:{web_port}/healthz")[0] == 200
            for service in WAC_SERVICES:
                checked = podman("exec", compose.container(service), "wac-healthcheck").stdout
                assert "answered 200" in checked, (service, checked)
                # the work folder is the image's: its user, with a copy of the 0600 key
                assert process_uid(compose.container(service)) == 10001
            ((rows, ids, ups),) = query(
                db_env,
                "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE ok) FROM checks",
            )
            print(f"compose managed: {rows} rows, {ids} distinct ids, {ups} up")
            assert rows == ids == ups
        except BaseException:
            print(compose.logs())
            raise
        finally:
            compose("down", "-v")


SEED_COMPOSE = """\
# The seed's compose, as its README describes it, with the image name changed to wac's:
# the project folder (source, .env, certs/) mounted on /usr/src/app, `wac.monitor URL`
# as the monitor's command and no command for the store. (Host network: this test's
# stand-ins for the managed services listen on the host's loopback.)
services:
  monitor:
    image: ${WAC_IMAGE:-wac:latest}
    command: wac.monitor %(url)s --period 1
    volumes: [".:/usr/src/app"]
    network_mode: host
    environment: {WAC_MONITOR_METRICS_PORT: "%(monitor_port)d"}
  store:
    image: ${WAC_IMAGE:-wac:latest}
    volumes: [".:/usr/src/app"]
    network_mode: host
    environment: {WAC_STORE_METRICS_PORT: "%(store_port)d"}
"""


def test_seed_compose_with_only_the_image_name_changed(
    images: None, site: str, services_env: dict[str, str], tmp_path: Path
) -> None:
    run_id = uuid.uuid4().hex[:8]
    with own_schema(services_env) as db_env:
        settings = {
            "KAFKA_ENDPOINT": services_env["KAFKA_ENDPOINT"],
            "KAFKA_TOPIC": f"{TEST_TOPIC_PREFIX}-seed-{run_id}",
            "KAFKA_GROUP_ID": f"{TEST_TOPIC_PREFIX}-seed-{run_id}",
            "POSTGRES_ENDPOINT": with_root_cert(db_env["POSTGRES_ENDPOINT"], "certs/ca.pem"),
        }
        host_user = (1000, 1000)
        folder = work_folder(
            tmp_path / "seed", Path(services_env["KAFKA_CERT_DIR"]), settings, host_user
        )
        # the seed's own sources are in the folder too: the image must not import them
        (folder / "wac").mkdir()
        (folder / "wac" / "__init__.py").write_text("raise SystemExit('the seed wac imported')\n")
        (folder / "docker-compose.yml").write_text(
            SEED_COMPOSE
            % {"url": f"{site}/ok", "monitor_port": free_port(), "store_port": free_port()}
        )
        compose = Compose(folder, f"wac-seed-{run_id}", ["docker-compose.yml"], {})
        try:
            compose("up", "-d")
            wait_for(
                lambda: query(db_env, "SELECT count(*) FROM checks")[0][0] >= 3, 120, "3 rows", 1
            )
            for service in ("monitor", "store"):
                assert process_uid(compose.container(service)) == host_user[0]
                checked = podman("exec", compose.container(service), "wac-healthcheck").stdout
                assert "answered 200" in checked, (service, checked)
        except BaseException:
            print(compose.logs())
            raise
        finally:
            compose("down")
        ((rows, ids),) = query(db_env, "SELECT count(*), count(DISTINCT id) FROM checks")
        print(f"seed compose: {rows} rows, {ids} distinct ids")
        assert rows == ids >= 3


def test_managed_override_names_a_missing_endpoint(tmp_path: Path) -> None:
    folder = clone(tmp_path / "wac")
    (folder / ".env").write_text("POSTGRES_ENDPOINT=postgresql://wac:secret@db.example/wac\n")
    compose = Compose(
        folder, "wac-config", ["docker-compose.yml", "docker-compose.managed.yml"], {}
    )
    with pytest.raises(AssertionError) as refused:
        compose("config")
    assert "KAFKA_ENDPOINT is missing a value: set KAFKA_ENDPOINT in .env" in str(refused.value)
    (folder / ".env").write_text("KAFKA_ENDPOINT=kafka.example:9093\nPOSTGRES_ENDPOINT=x\n")
    config = yaml.safe_load(compose("config"))
    assert set(config["services"]) == set(WAC_SERVICES)  # no local Kafka or PostgreSQL
    store = config["services"]["store"]
    assert store["environment"]["KAFKA_ENDPOINT"] == "kafka.example:9093"
    assert store["environment"]["KAFKA_USE_SSL"] == "true"
    assert "depends_on" not in store or not store["depends_on"]
