from pathlib import Path

import pytest

from wac.config import load_settings, parse_kafka_endpoint, redact_url
from wac.errors import ConfigError


def test_seed_defaults() -> None:
    s = load_settings({})
    assert s.kafka_cert_dir == Path("./certs")
    assert s.kafka_topic == "website-monitoring"
    assert s.kafka_client_id == "website-monitoring-client"
    assert s.kafka_group_id == "website-monitoring-group"
    assert s.kafka_use_ssl is True
    assert s.check_timeout == 1.0
    assert s.kafka_endpoint is None
    assert s.postgres_endpoint is None


@pytest.mark.parametrize(("raw", "expected"), [("false", False), ("FALSE", False), ("true", True)])
def test_use_ssl_on_unless_false(raw: str, expected: bool) -> None:
    assert load_settings({"KAFKA_USE_SSL": raw}).kafka_use_ssl is expected


def test_use_ssl_rejects_nonsense() -> None:
    with pytest.raises(ConfigError, match="KAFKA_USE_SSL"):
        load_settings({"KAFKA_USE_SSL": "maybe"})


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "nan"])
def test_check_timeout_must_be_positive_number(raw: str) -> None:
    with pytest.raises(ConfigError, match="CHECK_TIMEOUT"):
        load_settings({"CHECK_TIMEOUT": raw})


def test_check_timeout_float() -> None:
    assert load_settings({"CHECK_TIMEOUT": "2.5"}).check_timeout == 2.5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("kafka.example.com:12345", "kafka.example.com:12345"),
        ("ssl://a:1, b:2", "a:1,b:2"),
        ("127.0.0.1:19093", "127.0.0.1:19093"),
    ],
)
def test_kafka_endpoint_forms(raw: str, expected: str) -> None:
    assert parse_kafka_endpoint(raw) == expected


@pytest.mark.parametrize("raw", ["localhost", "host:port", ":9092", "host:0", "host:70000"])
def test_kafka_endpoint_errors_name_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"KAFKA_ENDPOINT=.*host:port"):
        parse_kafka_endpoint(raw)


def test_missing_endpoints_explain_the_fix() -> None:
    s = load_settings({})
    with pytest.raises(ConfigError, match=r"KAFKA_ENDPOINT is not set.*wac services up"):
        s.kafka()
    with pytest.raises(ConfigError, match="POSTGRES_ENDPOINT is not set"):
        s.postgres()


def test_bad_postgres_url_is_redacted() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"POSTGRES_ENDPOINT": "mysql://u:s3cret@h/db"})
    assert "s3cret" not in str(info.value)
    assert "POSTGRES_ENDPOINT" in str(info.value)


def test_redact_url_hides_password_only() -> None:
    assert redact_url("postgresql://wac:pw@127.0.0.1:15432/wac") == (
        "postgresql://wac:***@127.0.0.1:15432/wac"
    )
    assert redact_url("postgresql://127.0.0.1/wac") == "postgresql://127.0.0.1/wac"


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch) -> None:
    from wac.config import load_environment

    (tmp_path / ".env").write_text("KAFKA_TOPIC=from-file\nKAFKA_CLIENT_ID=file-client\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAFKA_CLIENT_ID", "shell-client")
    monkeypatch.delenv("KAFKA_TOPIC", raising=False)
    env = load_environment()
    assert env["KAFKA_TOPIC"] == "from-file"
    assert env["KAFKA_CLIENT_ID"] == "shell-client"
