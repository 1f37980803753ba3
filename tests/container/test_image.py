"""The wac image, built from the Dockerfile and run with podman as a user runs it: `wac check`
against a local site, then the seed's compose commands (`wac.monitor URL`, the default
command = the store) through the local Kafka (SSL) into the local PostgreSQL, each with a
0600 service.key it does not own.

The containers use the host's network, where the local services and sites listen."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.support.containers import (
    IMAGE,
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

APP_UID = 10001
HOST_USER = (1000, 1000)  # a host user's files, as a bind mount shows them


@pytest.fixture(scope="session")
def image() -> str:
    print(run_script("build-image.sh", WAC_IMAGE=IMAGE))
    return IMAGE


def run(
    image: str, *args: str, volumes: tuple[str, ...] = (), options: tuple[str, ...] = ()
) -> tuple[int, str]:
    mounts = [f"--volume={v}" for v in volumes]
    done = podman(
        "run", "--rm", "--no-healthcheck", "--network=host", *mounts, *options, image, *args,
        check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_check_against_a_local_site(image: str, site: str) -> None:
    code, out = run(image, "check", f"{site}/ok")
    assert code == 0, out
    assert "ok             yes" in out and "status         200" in out

    code, out = run(image, "check", f"{site}/status/503")
    assert code == 1, out
    assert "HTTP status 503" in out

    # started as another user (--user), the entrypoint changes nothing
    code, out = run(image, "sh", "-c", "id -u; wac check --json " + f"{site}/ok",
                    options=("--user=4242:4242",))  # fmt: skip
    assert code == 0, out
    uid, result = out.split("\n", 1)
    assert uid == "4242" and json.loads(result)["ok"] is True


def test_no_dev_tools_and_seed_entry_points(image: str) -> None:
    code, out = run(
        image,
        "python",
        "-c",
        "import importlib.util as u; print([m for m in ('pytest', 'mypy', 'playwright', "
        "'hypothesis', 'ruff', 'pip', 'setuptools') if u.find_spec(m)])",
    )
    assert code == 0, out
    assert out.strip() == "[]"  # not even pip in wac's virtualenv
    code, out = run(image, "sh", "-c", "command -v gcc cc make || echo none")
    assert out.strip() == "none"
    for command in (("python", "-m", "wac.monitor", "--help"), ("wac.store_results", "--help")):
        code, out = run(image, *command)
        assert code == 0 and "Usage:" in out, out


def test_default_command_is_the_store(image: str, tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    code, out = run(image, volumes=(f"{tmp_path}:/usr/src/app",))
    assert code == 2, out
    assert "KAFKA_ENDPOINT is not set" in out
    assert "Traceback" not in out


def test_unreadable_work_folder_or_env_file_is_one_clear_line(image: str, tmp_path: Path) -> None:
    # root's 0700 folder: the app user (the folder is root's) cannot enter it
    code, out = run(image, "store", volumes=(f"{tmp_path}:/usr/src/app",))
    assert code == 2, out
    assert out.strip().count("\n") == 0 and "cannot be entered by uid 10001" in out

    tmp_path.chmod(0o755)
    env_file = tmp_path / ".env"
    env_file.write_text("KAFKA_ENDPOINT=127.0.0.1:1\n")
    env_file.chmod(0o600)  # root's: the app user cannot read it
    code, out = run(image, "store", volumes=(f"{tmp_path}:/usr/src/app",))
    assert code == 2, out
    assert out.strip().count("\n") == 0 and ".env cannot be read by uid 10001" in out


def test_seed_monitor_and_store_through_local_kafka_and_postgres(
    image: str, site: str, services_env: dict[str, str], tmp_path: Path
) -> None:
    run_id = uuid.uuid4().hex[:10]
    url = f"{site}/ok?run={run_id}"
    kafka = {
        "KAFKA_ENDPOINT": services_env["KAFKA_ENDPOINT"],
        "KAFKA_TOPIC": f"{TEST_TOPIC_PREFIX}-image-{run_id}",
        "KAFKA_GROUP_ID": f"{TEST_TOPIC_PREFIX}-image-group-{run_id}",
        "KAFKA_PARTITIONS": "3",
    }
    cert_source = Path(services_env["KAFKA_CERT_DIR"])
    with own_schema(services_env) as db_env:
        postgres = with_root_cert(db_env["POSTGRES_ENDPOINT"], "/usr/src/app/certs/ca.pem")
        # the monitor's folder is a host user's: it runs as that user, who owns the key
        monitor_dir = work_folder(tmp_path / "monitor", cert_source, kafka, HOST_USER)
        # the store's folder and its 0600 key are root's: it runs as the image's user,
        # with a private copy of the certificates
        store_dir = work_folder(
            tmp_path / "store", cert_source, {**kafka, "POSTGRES_ENDPOINT": postgres}, (0, 0)
        )
        monitor, store = f"wac-monitor-{run_id}", f"wac-store-{run_id}"
        try:
            podman(
                "run", "-d", f"--name={monitor}", "--network=host",
                f"--volume={monitor_dir}:/usr/src/app",
                f"--env=WAC_MONITOR_METRICS_PORT={free_port()}",
                image, "wac.monitor", url, "--period", "1",
            )  # fmt: skip
            podman(
                "run", "-d", f"--name={store}", "--network=host",
                f"--volume={store_dir}:/usr/src/app",
                f"--env=WAC_STORE_METRICS_PORT={free_port()}",
                image,
            )  # fmt: skip
            wait_for(lambda: query(db_env, "SELECT count(*) FROM checks")[0][0] >= 5, 120, "5 rows")
            assert process_uid(monitor) == HOST_USER[0]
            assert process_uid(store) == APP_UID
            for container in (monitor, store):
                checked = podman("exec", container, "wac-healthcheck").stdout
                assert "/metrics answered 200" in checked, checked
                health = podman("healthcheck", "run", container, check=False)
                assert health.returncode == 0, (health.stdout, health.stderr)
            for container in (monitor, store):
                podman("stop", "--time=30", container, timeout=60)
                state = podman("inspect", "--format={{.State.ExitCode}}", container).stdout
                assert state.strip() == "0", podman("logs", container).stderr
        finally:
            logs = {c: podman("logs", c, check=False) for c in (monitor, store)}
            podman("rm", "-f", monitor, store, check=False)
        ((rows, ids, targets),) = query(
            db_env, "SELECT count(*), count(DISTINCT id), count(DISTINCT target) FROM checks"
        )
        ups = query(db_env, "SELECT count(*) FROM checks WHERE ok AND status_code = 200")[0][0]
    print(f"image pipeline: {rows} rows, {ids} distinct ids, {ups} up, {targets} target")
    assert rows >= 5 and rows == ids == ups, logs
    assert targets == 1
