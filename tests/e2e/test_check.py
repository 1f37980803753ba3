"""`wac check` and the monitor's usage errors: no Kafka needed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.processes import wac
from tests.support.servers import echo_server, free_port, local_ca, tls_site
from wac.result import decode


def plain_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    env["WAC_MONITOR_NAME"] = "checker"
    return env


def assert_usage_error(result, *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wac: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_check_prints_json_and_exits_0_when_up(site: str) -> None:
    result = wac(["check", f"{site}/ok", "--pattern", "Hello", "--json"], plain_env())
    assert result.returncode == 0, result.stderr
    message = decode(result.stdout.strip().encode())
    assert message.ok and message.pattern_matched is True and message.monitor == "checker"


def test_check_prints_a_table_and_exits_1_when_down(site: str) -> None:
    result = wac(["check", f"{site}/status/503"], plain_env())
    assert result.returncode == 1
    assert "status: HTTP status 503, expected 2xx or 3xx" in result.stdout
    assert "  connect" in result.stdout and "response time" in result.stdout


def test_check_with_a_ca_bundle_and_without_verification() -> None:
    with tls_site("good") as (base, _):
        env = {**plain_env(), "WAC_CA_BUNDLE": str(local_ca().bundle)}
        trusted = wac(["check", f"{base}/ok"], env)
        assert trusted.returncode == 0, trusted.stdout
        assert "certificate expires" in trusted.stdout and "  tls" in trusted.stdout
        untrusted = wac(["check", f"{base}/ok"], plain_env())
        assert untrusted.returncode == 1 and "tls: TLS failed" in untrusted.stdout
        assert wac(["check", f"{base}/ok", "--no-verify-tls"], plain_env()).returncode == 0


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["check", "ftp://example.com/"], ["must start with http://"]),
        (["check", "http://127.0.0.1:1/", "--pattern", "("], ["pattern '('", "not a valid regex"]),
        (["check", "http://127.0.0.1:1/", "--timeout", "0"], ["--timeout"]),
        (["monitor", "http://127.0.0.1:1/", "--shard", "2/2"], ["--shard", "0 to n-1"]),
        (["monitor", "http://127.0.0.1:1/", "--workers", "0"], ["--workers"]),
        (["monitor", "http://127.0.0.1:1/", "--max-in-flight", "none"], ["--max-in-flight"]),
        (["monitor", "http://127.0.0.1:1/", "--buffer", "-5"], ["--buffer", "positive"]),
        (["monitor"], ["nothing to check"]),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: list[str], fragments: list[str]) -> None:
    assert_usage_error(wac(args, plain_env()), *fragments)


def test_bad_targets_file_is_one_line_naming_target_and_field(tmp_path: Path) -> None:
    config = tmp_path / "targets.yaml"
    config.write_text("targets:\n  - name: shop\n    url: https://shop.test/\n    timeout: -1s\n")
    assert_usage_error(wac(["monitor", "--config", str(config)], plain_env()), "'shop'", "timeout")
    env = {**plain_env(), "WAC_CA_BUNDLE": str(tmp_path / "missing.pem")}
    assert_usage_error(wac(["check", "http://127.0.0.1:1/"], env), "WAC_CA_BUNDLE")


def test_check_takes_every_probe_scheme() -> None:
    """tcp, tls and icmp through `wac check` (the DNS probe's own server is in
    tests/integration/test_dns_probe.py), each up and down; push:// is one line."""
    with echo_server(b"hello\n") as port:
        up = wac(["check", f"tcp://127.0.0.1:{port}", "--json"], plain_env())
        assert up.returncode == 0, up.stdout + up.stderr
        result = json.loads(up.stdout)
        assert result["probe"] == "tcp" and result["ok"] is True
    closed = wac(["check", f"tcp://127.0.0.1:{free_port()}"], plain_env())
    assert closed.returncode == 1 and "connect" in closed.stdout, closed.stdout
    with tls_site("good") as (base, _):
        port = int(base.rsplit(":", 1)[1])
        env = {**plain_env(), "WAC_CA_BUNDLE": str(local_ca().bundle)}
        shown = wac(["check", f"tls://127.0.0.1:{port}", "--json"], env)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert json.loads(shown.stdout)["probe"] == "tls"
        untrusted = wac(["check", f"tls://127.0.0.1:{port}"], plain_env())
        assert untrusted.returncode == 1, untrusted.stdout
    ping = wac(["check", "icmp://127.0.0.1", "--json"], plain_env())
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert json.loads(ping.stdout)["probe"] == "icmp"
    pushed = wac(["check", "push://nightly"], plain_env())
    assert_usage_error(pushed, "push://")
