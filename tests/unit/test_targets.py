from pathlib import Path

import pytest

from wac.errors import ConfigError
from wac.targets import load_targets_file, parse_duration, parse_targets_document
from wac.yaml_config import parse_yaml


def parse(text: str):
    return parse_targets_document(parse_yaml(text, "t.yaml"), source="t.yaml", default_timeout=1.0)


def test_full_example_from_design() -> None:
    targets = parse(
        """
defaults:
  interval: 10s
  timeout: 1s
targets:
  - url: https://example.com/
    name: example
    interval: 30s
    timeout: 2.5s
    method: GET
    headers: {Accept: text/html}
    expect_status: [200, 301]
    pattern: "Example Domain"
    verify_tls: true
  - url: http://other.example/health
"""
    )
    first, second = targets
    assert first.id == "example"
    assert first.interval == 30.0
    assert first.timeout == 2.5
    assert first.headers == (("Accept", "text/html"),)
    assert first.expect_status == frozenset({200, 301})
    assert first.compiled_pattern is not None and first.compiled_pattern.found(b"Example Domain")
    assert second.id == "GET http://other.example/health"
    assert second.interval == 10.0
    assert second.timeout == 1.0
    assert second.status_expected(302) and not second.status_expected(404)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("250ms", 0.25), ("10s", 10), ("5m", 300), ("1h", 3600), (7, 7), ("1.5", 1.5)],
)
def test_durations(raw: object, seconds: float) -> None:
    assert parse_duration(raw, "w", "interval") == seconds


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("  - url: https://a/\n    intervall: 5s", "target #1 .*unknown key 'intervall'"),
        ("  - url: ftp://a/", "target #1 .*url 'ftp://a/' must start with http"),
        ("  - url: https://a/\n    name: x\n    pattern: '(unclosed'", "target 'x': pattern"),
        ("  - url: https://a/\n    interval: 0s", "interval must be positive"),
        ("  - url: https://a/\n    timeout: soon", "timeout 'soon' is not a duration"),
        ("  - url: https://a/\n    expect_status: [200, 999]", "expect_status 999"),
        ("  - url: https://a/\n    method: FETCH", "method 'FETCH'"),
        ("  - url: https://a/\n  - url: https://a/", "duplicate target id"),
        ("  - name: nourl", "`url` is required"),
        ("  - url: https://a/\n    verify_tls: sometimes", "verify_tls must be true or false"),
    ],
)
def test_mistakes_name_target_and_field(entry: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse("targets:\n" + entry)


def test_unknown_top_level_key() -> None:
    with pytest.raises(ConfigError, match="unknown key 'target'"):
        parse("target:\n  - url: https://a/")


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_targets_file(tmp_path / "missing.yaml", default_timeout=1)
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_targets_file(bad, default_timeout=1)


def test_credentials_in_urls_never_published() -> None:
    from wac.targets import target_from_url

    target = target_from_url("https://user:s3cret@example.com/x", interval=1, timeout=1)
    assert target.url == "https://user:s3cret@example.com/x"  # what libcurl uses
    assert target.public_url == "https://***@example.com/x"
    assert target.id == "GET https://***@example.com/x"
    assert "s3cret" not in repr(target)
    token = target_from_url("https://ghp_token@example.com/", interval=1, timeout=1)
    assert "ghp_token" not in token.public_url + token.id
    with pytest.raises(ConfigError) as info:
        parse("targets:\n  - url: https://u:s3cret@a/\n    intervall: 1s")
    assert "s3cret" not in str(info.value)
