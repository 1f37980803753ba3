"""Bad certificates, unreachable broker or database: one clear line and exit code 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.foreign_certs import (
    BROKEN_CLIENT_FILES,
    write_broken_client_files,
    write_foreign_client_cert,
)
from tests.support.processes import wac
from tests.support.servers import free_port

pytestmark = pytest.mark.integration


def assert_one_line_error(result, *fragments: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("wac: error: "), result.stderr
    for fragment in fragments:
        assert fragment in last, last
    return last


def test_missing_client_certificate(isolated_env: dict[str, str], tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(Path(isolated_env["KAFKA_CERT_DIR"]) / "ca.pem", certs / "ca.pem")
    env = {**isolated_env, "KAFKA_CERT_DIR": str(certs)}
    result = wac(["monitor", "http://127.0.0.1:1/"], env)
    assert_one_line_error(result, "has no service.cert", "KAFKA_CERT_DIR")


def test_missing_cert_dir(isolated_env: dict[str, str], tmp_path: Path) -> None:
    env = {**isolated_env, "KAFKA_CERT_DIR": str(tmp_path / "nowhere")}
    result = wac(["store"], env)
    assert_one_line_error(result, "is not a directory")


def test_certificate_from_another_ca_is_refused(
    isolated_env: dict[str, str], tmp_path: Path
) -> None:
    certs = tmp_path / "certs"
    write_foreign_client_cert(certs)
    # Trust the real broker, but present a client certificate it does not trust.
    shutil.copy(Path(isolated_env["KAFKA_CERT_DIR"]) / "ca.pem", certs / "ca.pem")
    env = {**isolated_env, "KAFKA_CERT_DIR": str(certs)}
    result = wac(["monitor", "http://127.0.0.1:1/"], env)
    assert_one_line_error(result, "refused our client certificate", "KAFKA_CERT_DIR")


def test_broker_certificate_not_trusted(isolated_env: dict[str, str], tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    write_foreign_client_cert(certs)  # ca.pem is a stranger: the broker is not trusted
    env = {**isolated_env, "KAFKA_CERT_DIR": str(certs)}
    result = wac(["monitor", "http://127.0.0.1:1/"], env)
    last = assert_one_line_error(result, "cannot use Kafka")
    assert "certificate" in last.lower()


def test_unreachable_broker(isolated_env: dict[str, str]) -> None:
    env = {**isolated_env, "KAFKA_ENDPOINT": f"127.0.0.1:{free_port()}"}
    result = wac(["monitor", "http://127.0.0.1:1/"], env)
    assert_one_line_error(result, "cannot use Kafka at KAFKA_ENDPOINT=127.0.0.1:")


def test_ssl_against_plaintext_listener(isolated_env: dict[str, str]) -> None:
    env = {**isolated_env, "KAFKA_ENDPOINT": isolated_env["KAFKA_PLAINTEXT_ENDPOINT"]}
    result = wac(["monitor", "http://127.0.0.1:1/"], env)
    assert_one_line_error(result, "cannot use Kafka", "over SSL", "does not speak SSL")


def test_unreachable_database(isolated_env: dict[str, str]) -> None:
    env = {
        **isolated_env,
        "POSTGRES_ENDPOINT": f"postgresql://wac:topsecret@127.0.0.1:{free_port()}/wac",
    }
    result = wac(["store"], env)
    assert_one_line_error(result, "cannot connect to PostgreSQL", "wac:***@127.0.0.1")
    assert "topsecret" not in result.stderr + result.stdout


def test_wrong_database_password(isolated_env: dict[str, str]) -> None:
    url = isolated_env["POSTGRES_ENDPOINT"]
    _user, rest = url.split("://", 1)[1].split("@", 1)
    env = {**isolated_env, "POSTGRES_ENDPOINT": f"postgresql://wac:not-the-password@{rest}"}
    result = wac(["store"], env)
    assert_one_line_error(result, "password authentication failed")
    assert "not-the-password" not in result.stderr + result.stdout


def test_bad_endpoint_syntax(isolated_env: dict[str, str]) -> None:
    env = {**isolated_env, "KAFKA_ENDPOINT": "kafka-without-port"}
    result = wac(["monitor", "http://127.0.0.1:1/"], env)
    assert_one_line_error(result, "KAFKA_ENDPOINT='kafka-without-port' is not host:port")


def test_bad_url_argument(isolated_env: dict[str, str]) -> None:
    result = wac(["monitor", "example.com"], isolated_env)
    assert_one_line_error(result, "must start with http://, https://")


def test_plaintext_against_ssl_listener(isolated_env: dict[str, str]) -> None:
    env = {**isolated_env, "KAFKA_USE_SSL": "false"}
    result = wac(["store"], env)
    assert_one_line_error(result, "cannot use Kafka", "over plaintext", "KAFKA_USE_SSL=false")


SERVICES = {
    "monitor": ["monitor", "http://127.0.0.1:1/"],
    "monitor --workers 2": ["monitor", "http://127.0.0.1:1/", "--workers", "2"],
    "store": ["store"],
    "alert": ["alert"],
    "up": ["up", "http://127.0.0.1:1/"],
}


@pytest.mark.parametrize("case", BROKEN_CLIENT_FILES)
def test_corrupt_or_mismatched_client_files_are_one_line_in_every_service(
    case: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    certs = tmp_path / "certs"
    write_broken_client_files(certs, Path(isolated_env["KAFKA_CERT_DIR"]), case)
    env = {**isolated_env, "KAFKA_CERT_DIR": str(certs), "WAC_WEB_PORT": str(free_port())}
    for service, args in SERVICES.items():
        result = wac(args, env)
        last = assert_one_line_error(result, BROKEN_CLIENT_FILES[case], str(certs))
        assert len(result.stderr.strip().splitlines()) == 1, (service, result.stderr)
        assert "KAFKA_CERT_DIR" in last, (service, last)
