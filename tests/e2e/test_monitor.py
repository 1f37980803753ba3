"""`wac monitor` as a user runs it: targets file reloads, SIGHUP, workers, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

from tests.support.kafka_read import read_topic
from tests.support.processes import wait_for
from wac.result import CheckResult, decode

pytestmark = pytest.mark.integration


def start_monitor(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "wac", "monitor", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_monitor(process: subprocess.Popen[bytes], log: Path) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    code = process.wait(60)
    return code, log.read_text()


def results(env: dict[str, str]) -> list[CheckResult]:
    for attempt in range(50):
        try:
            records = read_topic(env)
            break
        except KafkaException:  # the monitor created the topic a moment ago: no leader yet
            if attempt == 49:
                raise
            time.sleep(0.2)
    decoded = [decode(value) for _, value in records]
    assert all(key == r.target.encode() for (key, _), r in zip(records, decoded, strict=True))
    return decoded


def per_target(env: dict[str, str]) -> Counter[str]:
    return Counter(r.target for r in results(env))


def targets_yaml(site: str, run: str, names: list[str]) -> str:
    lines = ["defaults:\n  interval: 300ms\n  timeout: 2s\ntargets:\n"]
    lines += [f"  - name: {name}\n    url: {site}/ok?run={run}&t={name}\n" for name in names]
    return "".join(lines)


def test_targets_file_edits_and_sighup_reload_without_restart(
    site: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    env = isolated_env
    run = uuid.uuid4().hex[:8]
    config = tmp_path / "targets.yaml"
    config.write_text(targets_yaml(site, run, ["keep", "drop"]))
    log = tmp_path / "monitor.log"
    monitor = start_monitor(
        ["--config", str(config), "--location", "test-location", "--summary-interval", "1"],
        env,
        log,
    )
    try:
        wait_for(lambda: {"keep", "drop"} <= set(per_target(env)), 60, "both first targets")

        # Edit: one removed, one added.
        config.write_text(targets_yaml(site, run, ["keep", "added"]))

        def counts_once_added() -> Counter[str] | None:
            counts = per_target(env)
            return counts if counts["added"] >= 1 else None

        counts = wait_for(counts_once_added, 30, "added target")
        assert counts is not None
        dropped_then = counts["drop"]
        wait_for(lambda: per_target(env)["added"] >= counts["added"] + 3, 30, "more checks")
        assert per_target(env)["drop"] <= dropped_then + 1  # at most the one in flight

        # A broken edit is reported and the current targets go on being checked.
        config.write_text("targets:\n  - url: ftp://nope/\n")
        kept = per_target(env)["keep"]
        wait_for(
            lambda: "reload" in log.read_text() and "ftp://nope/" in log.read_text(),
            30,
            "reload error",
        )
        wait_for(lambda: per_target(env)["keep"] >= kept + 3, 30, "keep still checked")

        # SIGHUP reloads even when the file looks unchanged (same size, time and inode).
        config.write_text(targets_yaml(site, run, ["keep", "hup"]))
        stat = config.stat()
        wait_for(lambda: per_target(env)["hup"] >= 1 or None, 30, "edit picked up")
        with config.open("r+") as f:  # rewrite in place: same inode and size
            f.write(targets_yaml(site, run, ["keep", "huq"]))
        os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        monitor.send_signal(signal.SIGHUP)
        wait_for(lambda: per_target(env)["huq"] >= 1, 30, "target added by SIGHUP")
    finally:
        code, output = stop_monitor(monitor, log)
    assert code == 0, output[-3000:]
    assert "reload (SIGHUP)" in output
    assert "keeping the current targets" in output
    assert "monitor stopped" in output and "lateness p99" in output
    assert "checks " in output and "/s (" in output  # the periodic summary line
    everything = results(env)
    assert {r.monitor for r in everything} == {"test-location"}
    assert len({r.id for r in everything}) == len(everything)


def test_workers_share_the_targets_and_stats_are_merged(
    site: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    env = isolated_env
    run = uuid.uuid4().hex[:8]
    urls = [f"{site}/ok?run={run}&n={i}" for i in range(12)]
    stats_file = tmp_path / "stats.json"
    log = tmp_path / "monitor.log"
    monitor = start_monitor(
        [*urls, "--period", "0.3", "--workers", "2", "--stats-file", str(stats_file)], env, log
    )
    try:
        wait_for(lambda: len(per_target(env)) == len(urls), 60, "every target checked")
    finally:
        code, output = stop_monitor(monitor, log)
    assert code == 0, output[-3000:]
    assert "started 2 monitor workers (shards 0/2, 1/2)" in output
    assert output.count("monitor stopped") == 2
    stats = json.loads(stats_file.read_text())
    in_topic = results(env)
    assert stats["workers"] == 2
    assert stats["produced"] == stats["delivered"] == len(in_topic)
    assert stats["dropped"] == 0 and stats["undelivered"] == 0
    assert stats["lateness"]["count"] == stats["started"]
    assert {r.target for r in in_topic} == {f"GET {u}" for u in urls}
