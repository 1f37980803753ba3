"""Running `wac` commands as a user would: child processes with their own environment."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def wac(
    args: Sequence[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wac", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(module_args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """Start `python -m ...` in the background, output kept for the assertions."""
    return subprocess.Popen(
        [sys.executable, "-m", *module_args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    """SIGTERM, then wait: returns exit code, stdout, stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
