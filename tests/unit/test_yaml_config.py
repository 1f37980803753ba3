"""The one YAML loader of the targets file and its alerts section: each refusal."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wac.alerts.config import has_alerts_section, load_alert_config
from wac.errors import ConfigError
from wac.targets import load_targets_file
from wac.yaml_config import EXPANSION_FLOOR, MAX_DEPTH, parse_yaml


def refused(data: bytes | str, *fragments: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_yaml(data, "t.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("t.yaml: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def bomb(levels: int = 9, width: int = 9, field: str = "method") -> str:
    """A "billion laughs": `levels` anchors, each a list of `width` aliases of the last."""
    lines = ["lol0: &lol0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        aliases = ", ".join([f"*lol{level - 1}"] * width)
        lines.append(f"lol{level}: &lol{level} [{aliases}]")
    lines.append(f"targets:\n  - url: https://example.com/\n    {field}: *lol{levels - 1}")
    return "\n".join(lines) + "\n"


def test_plain_documents_load_as_pyyaml_would() -> None:
    document = parse_yaml(
        "a: 1\nb: [x, 'y', 2.5, .inf, ~, yes, 0x1F, 1:30]\nc: {d: 2024-01-02T03:04:05Z}\n",
        "t.yaml",
    )
    assert document == {
        "a": 1,
        "b": ["x", "y", 2.5, float("inf"), None, True, 31, 90],
        "c": {"d": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)},
    }
    assert parse_yaml("", "t.yaml") is None and parse_yaml("# nothing\n", "t.yaml") is None


def test_merge_keys_and_shared_anchors_work() -> None:
    document = parse_yaml(
        "base: &base {interval: 5s, timeout: 1s}\n"
        "other: &other {timeout: 2s, method: HEAD}\n"
        "one: {<<: *base, timeout: 3s}\n"
        "two: {<<: [*other, *base]}\n"
        "list: &l [a, b]\n"
        "again: *l\n",
        "t.yaml",
    )
    assert document["one"] == {"interval": "5s", "timeout": "3s"}  # written out wins
    assert document["two"] == {"timeout": "2s", "method": "HEAD", "interval": "5s"}  # first wins
    assert document["again"] == ["a", "b"]


def test_not_utf8_names_the_line() -> None:
    refused(b"targets:\n  - url: https://caf\xe9.example/\n", "not UTF-8", "0xe9", "line 2")
    refused(b"\xff\xfetargets: []", "not UTF-8")  # UTF-16 is not taken either


def test_duplicate_keys_name_both_lines() -> None:
    refused(
        "targets:\n  - url: https://a/\n    timeout: 1s\n    timeout: 5s\n",
        "line 4",
        "the key 'timeout' is written twice",
        "first on line 3",
    )
    refused("a: 1\nb: 2\na: 3\n", "'a' is written twice", "first on line 1")
    refused("{x: 1, x: 2}", "'x' is written twice")
    refused("1: a\ntrue: b\n", "written twice")  # the same key once read: 1 == True


def test_alias_bomb_is_refused_at_once_in_any_field() -> None:
    for field in ("method", "timeout", "headers", "name"):
        started = time.process_time()
        refused(bomb(field=field), "aliases expand the document past", "alias bomb")
        assert time.process_time() - started < 0.5
    refused(bomb(levels=30, width=2), "alias bomb")  # deep and narrow: 2**30 values


def test_aliases_within_the_budget_are_fine() -> None:
    small = bomb(levels=3, width=9)  # 729 values
    assert len(parse_yaml(small, "t.yaml")["lol2"]) == 9
    assert EXPANSION_FLOOR >= 100_000


def test_recursive_aliases_deep_nesting_and_exotic_tags() -> None:
    refused("a: &x [1, *x]\n", "an alias refers to a value that contains it")
    refused("a: &x {b: *x}\n", "contains it")
    refused("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH}")
    refused("[" * 5000 + "]" * 5000, "not valid YAML")  # libyaml's own limit
    refused("a: !!set {x}\n", "!!set is not supported")
    refused("a: !!omap [x: 1]\n", "!!omap")
    refused("a: !!python/object:os.system ls\n", "is not supported")
    refused("a: !custom x\n", "!custom")
    refused("[a, b]: 1\n", "a list or mapping cannot be a key")


def test_values_python_cannot_hold() -> None:
    refused("timeout: " + "1" * 5000 + "\n", "line 1, column 10", "too long for a number")
    refused("start: 2024-13-45\n", "cannot be read as timestamp", "month must be in 1..12")
    refused("start: 2001-12-14t21:59:43.10+99:00\n", "cannot be read as timestamp")
    refused("x: !!float abc\n", "cannot be read as float")


def test_syntax_errors_are_one_line_with_position() -> None:
    refused("targets: [\n", "not valid YAML", "line 2, column 1")
    refused("a: b: c\n", "mapping values are not allowed", "line 1, column 5")
    refused("a: \x00\n", "control characters are not allowed", "line 1")
    refused("a: 1\n---\nb: 2\n", "but found another document")
    refused("a: *missing\n", "found undefined alias")


def test_files_targets_and_alerts_sections_share_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    with pytest.raises(ConfigError, match="cannot read it"):
        load_targets_file(path, default_timeout=1)
    cases = [
        (b"targets:\n  - url: https://a/\n    name: caf\xe9\n", "not UTF-8"),
        (bomb().encode(), "alias bomb"),
        (b"targets:\n  - url: https://a/\n    url: https://b/\n", "written twice"),
        (
            b"targets:\n  - {url: https://a/, name: a}\n"
            b"alerts:\n  delivery: {workers: 2, workers: 3}\n",
            "'workers' is written twice",
        ),
        (b"targets: &x [*x]\n", "contains it"),
    ]
    for data, fragment in cases:
        path.write_bytes(data)
        for load in (
            lambda: load_targets_file(path, default_timeout=1),
            lambda: load_alert_config(path, {}),
        ):
            with pytest.raises(ConfigError) as info:
                load()
            message = str(info.value)
            assert fragment in message and "\n" not in message, message
            assert message.startswith(f"targets file {str(path)!r}: "), message
        assert has_alerts_section(path) is False


def test_alerts_section_alias_bomb(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    anchors = bomb(levels=9, width=9).split("targets:")[0]
    path.write_text(
        anchors.replace("lol", "x")
        + "targets:\n  - {url: https://a/, name: a}\n"
        + "alerts:\n  defaults: {quorum: *x8}\n"
    )
    started = time.process_time()
    with pytest.raises(ConfigError, match="alias bomb"):
        load_alert_config(path, {})
    assert time.process_time() - started < 0.5
