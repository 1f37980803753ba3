"""Settings on the command line as a user meets them: `.env` honoured by every command,
half-given endpoints refused, the seed's entry points, and the options' help and bounds.
No Kafka or PostgreSQL needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KAFKA_", "POSTGRES_", "CHECK_", "WAC_"))
    }
    return {**env, **extra}


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wac: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("variables", "given", "missing"),
    [
        ({"KAFKA_ENDPOINT": "kafka.example.com:9093"}, "KAFKA_ENDPOINT", "POSTGRES_ENDPOINT"),
        (
            {"POSTGRES_ENDPOINT": "postgresql://u@db.example/x"},
            "POSTGRES_ENDPOINT",
            "KAFKA_ENDPOINT",
        ),
    ],
)
def test_half_given_endpoints_stop_wac_up_rather_than_switching_to_local_services(
    tmp_path: Path, variables: dict[str, str], given: str, missing: str
) -> None:
    # once in the environment, once in .env: both count the same
    in_env = run(["-m", "wac", "up", "https://example.com/"], tmp_path, clean_env(**variables))
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in variables.items()))
    in_file = run(["-m", "wac", "up", "https://example.com/"], tmp_path)
    for result in (in_env, in_file):
        one_error_line(result, f"{given} is set but {missing} is not", "set both", "or neither")
        assert "starting local services" not in result.stdout
    assert not (tmp_path / ".wac").exists()  # nothing was started


def test_every_command_reads_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CHECK_TIMEOUT=soon\n")
    one_error_line(
        run(["-m", "wac", "check", "http://127.0.0.1:9/"], tmp_path),
        "CHECK_TIMEOUT='soon' is not a duration",
    )
    (tmp_path / ".env").write_text("WAC_WEB_PORT=70000\n")
    one_error_line(run(["-m", "wac", "web"], tmp_path), "WAC_WEB_PORT='70000' is not a TCP port")
    (tmp_path / ".env").write_text("WAC_KAFKA_PORT=65535\n")
    one_error_line(
        run(["-m", "wac", "services", "status"], tmp_path),
        "WAC_KAFKA_PORT='65535' must be a whole number from 1 to 65533",
    )


def test_alert_metrics_port_zero_is_refused(tmp_path: Path) -> None:
    one_error_line(
        run(["-m", "wac", "alert", "--metrics-port", "0", "--check-config"], tmp_path),
        "--metrics-port='0' is not a TCP port: use a number from 1 to 65535",
    )
    one_error_line(
        run(
            ["-m", "wac", "alert", "--check-config"],
            tmp_path,
            clean_env(WAC_ALERT_METRICS_PORT="0"),
        ),
        "WAC_ALERT_METRICS_PORT='0' is not a TCP port",
    )
    for command in (["monitor", "https://a/"], ["store"]):
        one_error_line(
            run(["-m", "wac", *command, "--metrics-port", "0"], tmp_path), "--metrics-port='0'"
        )


def test_options_are_documented(tmp_path: Path) -> None:
    up_help = run(["-m", "wac", "up", "--help"], tmp_path).stdout
    assert "--period DURATION" in up_help and "How often each URL" in up_help
    web_help = run(["-m", "wac", "web", "--help"], tmp_path).stdout
    assert "--host ADDRESS" in web_help and "0.0.0.0" in web_help
    readme = (ROOT / "README.md").read_text()
    assert "`wac web [--host ADDRESS] [--port N]" in readme
    assert "`wac up [URL...] [--config F] [--period D]`" in readme


def test_the_seed_monitor_shows_the_seed_usage(tmp_path: Path) -> None:
    shown = run(["-m", "wac.monitor", "--help"], tmp_path)
    assert shown.returncode == 0
    assert shown.stdout.startswith("Usage: python -m wac.monitor [OPTIONS] [URLS]...\n")
    assert "--period DURATION" in shown.stdout
    assert run(["-m", "wac.monitor", "-h"], tmp_path).stdout == shown.stdout
    one_error_line(run(["-m", "wac.monitor", "ftp://a/"], tmp_path), "must start with http")


def test_the_seed_store_accepts_and_ignores_the_seed_arguments(tmp_path: Path) -> None:
    """The seed's store ignored its arguments: `--period 2` is no usage error; without
    endpoints it stops on the missing setting, as the store does."""
    shown = run(["-m", "wac.store_results", "--help"], tmp_path)
    assert shown.returncode == 0
    assert shown.stdout.startswith("Usage: python -m wac.store_results [OPTIONS] [IGNORED]...")
    result = run(["-m", "wac.store_results", "--period", "2", "https://user:s3cret@a/"], tmp_path)
    assert result.returncode == 2, result.stderr
    ignoring, error = result.stderr.strip().splitlines()
    assert ignoring.startswith("python -m wac.store_results: ignoring --period 2 https://***@a/")
    assert "s3cret" not in result.stderr
    assert error.startswith("wac: error: KAFKA_ENDPOINT is not set")
