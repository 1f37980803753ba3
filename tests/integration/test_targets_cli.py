"""`wac targets` on the real local Kafka, as a user runs it: apply (twice changes nothing,
--dry-run, --prune, the file's validation), list, get, pause, resume, delete."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.processes import wac
from wac.targets.definition import Definition
from wac.targets_topic import read_definitions, targets_topic_settings

FILE = """\
defaults: {interval: 30s}
targets:
  - url: https://user:pw@example.com/
    name: example
    headers: {Authorization: Bearer s3cret}
  - url: http://127.0.0.1:9/
"""


def topic_now(env: dict[str, str]) -> dict[str, Definition]:
    return read_definitions(targets_topic_settings(env))


def test_apply_list_get_pause_resume_delete(isolated_env: dict[str, str], tmp_path: Path) -> None:
    env = isolated_env
    targets = tmp_path / "targets.yaml"
    targets.write_text(FILE)

    dry = wac(["targets", "apply", str(targets), "--dry-run"], env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "add     example",
        "add     GET http://127.0.0.1:9/",
        "2 added, 0 changed, 0 removed (dry run: nothing published)",
    ]
    assert topic_now(env) == {}

    first = wac(["targets", "apply", str(targets)], env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == "2 added, 0 changed, 0 removed"
    assert set(topic_now(env)) == {"example", "GET http://127.0.0.1:9/"}

    again = wac(["targets", "apply", str(targets)], env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        f"nothing changed: the topic already holds the 2 targets of {targets}"
    ]

    listed = wac(["targets", "list"], env)
    assert "example" in listed.stdout and "https://***@example.com/" in listed.stdout
    assert "pw" not in listed.stdout
    as_json = json.loads(wac(["targets", "list", "--json"], env).stdout)
    assert [d["id"] for d in as_json] == ["GET http://127.0.0.1:9/", "example"]
    assert "s3cret" not in json.dumps(as_json)

    assert wac(["targets", "pause", "example"], env).stdout == "paused example\n"
    got = json.loads(wac(["targets", "get", "example"], env).stdout)
    assert got["paused"] is True and got["interval"] == 30.0
    assert got["headers"] == {"Authorization": "***"}
    assert topic_now(env)["example"].target.url == "https://user:pw@example.com/"

    # A changed file: the interval changes, the pause is kept.
    targets.write_text(FILE.replace("30s", "1m"))
    changed = wac(["targets", "apply", str(targets)], env)
    assert changed.stdout.splitlines() == [
        "change  example (interval)",
        "change  GET http://127.0.0.1:9/ (interval)",
        "0 added, 2 changed, 0 removed",
    ]
    assert topic_now(env)["example"].paused is True

    assert wac(["targets", "resume", "example"], env).stdout == "resumed example\n"
    assert topic_now(env)["example"].paused is False
    assert wac(["targets", "resume", "example"], env).stdout == "example is already active\n"

    # Without --prune, a target missing from the file is kept; with it, removed.
    targets.write_text("targets:\n  - url: http://127.0.0.1:9/\n    interval: 1m\n")
    kept = wac(["targets", "apply", str(targets)], env)
    assert kept.stdout.splitlines()[-1].endswith(
        f"nothing changed: the topic already holds the 1 targets of {targets}; "
        f"1 not in {targets} kept (--prune deletes them)"
    )
    pruned = wac(["targets", "apply", str(targets), "--prune"], env)
    assert pruned.stdout.splitlines() == ["remove  example", "0 added, 0 changed, 1 removed"]
    assert set(topic_now(env)) == {"GET http://127.0.0.1:9/"}

    deleted = wac(["targets", "delete", "GET http://127.0.0.1:9/"], env)
    assert deleted.returncode == 0 and topic_now(env) == {}
    assert wac(["targets", "list"], env).stdout.startswith("no managed targets")


def test_bad_input_is_one_line_and_exit_2(isolated_env: dict[str, str], tmp_path: Path) -> None:
    env = isolated_env
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n  - url: http://a/\n    interval: soon\n")
    cases = [
        (["targets", "apply", str(bad)], "interval"),
        (["targets", "apply", str(tmp_path / "missing.yaml")], "cannot read it"),
        (["targets", "get", "nope"], "no managed target 'nope'"),
        (["targets", "delete", "nope"], "no managed target 'nope'"),
        (["targets", "pause", "nope"], "no managed target 'nope'"),
    ]
    for args, message in cases:
        done = wac(args, env)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("wac: error: "), done.stderr
        assert message in lines[0], lines[0]
    assert topic_now(env) == {}  # nothing was published


def test_without_kafka_endpoint_one_line(isolated_env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in isolated_env.items() if k != "KAFKA_ENDPOINT"}
    done = wac(["targets", "list"], env, timeout=30)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("wac: error: KAFKA_ENDPOINT is not set")
