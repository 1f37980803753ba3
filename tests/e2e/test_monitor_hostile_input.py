"""`wac monitor` and `wac check` given hostile patterns, files and values (real Kafka).

A pattern, a file or a value can cost its own results or one line, never the monitor:
the other targets keep their schedule, signals still stop it, a bad reload keeps the
current targets, and at start each is one line with exit code 2.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.test_check import assert_usage_error, plain_env
from tests.e2e.test_monitor import per_target, results, start_monitor, stop_monitor
from tests.support.processes import wac, wait_for

pytestmark = pytest.mark.integration

BOMB = "lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"lol{n}: &lol{n} [" + ", ".join([f"*lol{n - 1}"] * 9) + "]\n" for n in range(1, 9)
)
BAD_FILES = {
    "not UTF-8": (b"targets:\n  - url: http://caf\xe9.example/\n", "not UTF-8"),
    "alias bomb": (
        (BOMB + "targets:\n  - url: http://127.0.0.1:9/\n    method: *lol8\n").encode(),
        "alias bomb",
    ),
    "duplicate keys": (
        b"targets:\n  - url: http://127.0.0.1:9/\n    timeout: 1s\n    timeout: 2s\n",
        "the key 'timeout' is written twice",
    ),
}


def replace_file(path: Path, data: bytes) -> None:
    """Write the whole file at once, as an editor saving it does: never seen half-written."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def test_catastrophic_pattern_beside_a_bystander(
    site: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    env = isolated_env
    run = uuid.uuid4().hex[:8]
    config = tmp_path / "targets.yaml"
    config.write_text(
        "defaults:\n  interval: 300ms\n  timeout: 2s\ntargets:\n"
        f"  - name: bystander\n    url: {site}/ok?run={run}\n"
        f"  - name: catastrophic\n    url: {site}/forty-a?run={run}\n"
        "    pattern: '(a+)+$'\n"
    )
    log = tmp_path / "monitor.log"
    monitor = start_monitor(["--config", str(config), "--summary-interval", "1"], env, log)
    try:
        wait_for(
            lambda: per_target(env)["catastrophic"] >= 2 and per_target(env)["bystander"] >= 2,
            60,
            "results of both targets",
        )
        before = per_target(env)
        time.sleep(3.0)  # ten intervals
        after = per_target(env)
        assert after["bystander"] - before["bystander"] >= 6, (before, after)
        assert after["catastrophic"] - before["catastrophic"] >= 6, (before, after)
        monitor.send_signal(signal.SIGINT)
        started = time.monotonic()
        code = monitor.wait(20)
        stopped_in = time.monotonic() - started
    finally:
        code, output = stop_monitor(monitor, log)
    assert code == 0, output[-3000:]
    assert stopped_in < 10, stopped_in
    assert "Traceback" not in output
    verdicts = [r for r in results(env) if r.target == "catastrophic"]
    assert all(r.pattern_matched is False and r.error is not None for r in verdicts)
    assert {r.error.kind for r in verdicts if r.error is not None} == {"pattern"}


def test_wac_check_with_a_catastrophic_pattern_returns_promptly(site: str) -> None:
    started = time.monotonic()
    result = wac(
        ["check", f"{site}/forty-a", "--pattern", "(a+)+$", "--timeout", "2"], plain_env(), 30
    )
    assert time.monotonic() - started < 10
    assert result.returncode == 1, result.stderr
    assert "pattern: pattern '(a+)+$' not found in the body" in result.stdout


def test_reload_with_bad_files_keeps_the_current_targets(
    site: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    env = isolated_env
    run = uuid.uuid4().hex[:8]
    config = tmp_path / "targets.yaml"
    config.write_text(
        f"defaults:\n  interval: 300ms\ntargets:\n  - name: keep\n    url: {site}/ok?run={run}\n"
    )
    log = tmp_path / "monitor.log"
    monitor = start_monitor(["--config", str(config)], env, log)
    try:
        wait_for(lambda: per_target(env)["keep"] >= 1, 60, "the first result")
        for case, (data, fragment) in BAD_FILES.items():
            replace_file(config, data)
            started = time.monotonic()

            def reported(expected: str = fragment) -> bool:
                return expected in log.read_text()

            wait_for(reported, 20, f"the reload error ({case})")
            assert time.monotonic() - started < 10, case  # no hang

            def still_checked(kept: int = per_target(env)["keep"]) -> bool:
                return per_target(env)["keep"] >= kept + 3

            wait_for(still_checked, 30, f"keep still checked after {case}")
        assert monitor.poll() is None
    finally:
        code, output = stop_monitor(monitor, log)
    assert code == 0, output[-3000:]
    assert "Traceback" not in output
    failures = [line for line in output.splitlines() if "keeping the current targets" in line]
    assert len(failures) == len(BAD_FILES), failures  # one line each
    for (_, fragment), line in zip(BAD_FILES.values(), failures, strict=True):
        assert fragment in line, line
    assert {r.target for r in results(env)} == {"keep"}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_the_same_files_at_start_are_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    data, fragment = BAD_FILES[case]
    config = tmp_path / "targets.yaml"
    config.write_bytes(data)
    started = time.monotonic()
    for command in (["monitor", "--config", str(config)], ["alert", "--config", str(config)]):
        assert_usage_error(wac(command, plain_env(), 30), fragment)
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        (
            ["check", "http://127.0.0.1:9/", "--timeout", "inf"],
            {},
            "--timeout='inf' must be between 1ms and 1h",
        ),
        (["check", "http://127.0.0.1:9/", "--timeout", "nan"], {}, "--timeout='nan' is not a"),
        (["check", "http://127.0.0.1:9/"], {"CHECK_TIMEOUT": "1e300"}, "CHECK_TIMEOUT='1e300'"),
        (["monitor", "http://127.0.0.1:9/"], {"CHECK_TIMEOUT": "1e300"}, "CHECK_TIMEOUT"),
        (["check", "http://127.0.0.1:9/\x01"], {}, "control character"),
        (["check", "http://127.0.0.1:9/", "--pattern", r"(\w)\1"], {}, "not a valid regex for RE2"),
    ],
)
def test_values_that_used_to_throw_per_check_are_refused(
    args: list[str], env: dict[str, str], fragment: str
) -> None:
    assert_usage_error(wac(args, {**plain_env(), **env}, 30), fragment)
