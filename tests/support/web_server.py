"""`wac web` run as a user runs it, for the tests of its pages and API."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import stop, wait_for
from tests.support.servers import free_port


@dataclass
class RunningWeb:
    base: str
    port: int
    env: dict[str, str]  # the process's, with its port
    process: subprocess.Popen[str]
    log: Path  # its stdout and stderr

    def output(self) -> str:
        return self.log.read_text()


def _answers(web: RunningWeb) -> bool:
    assert web.process.poll() is None, f"wac web exited:\n{web.output()}"
    try:
        with urllib.request.urlopen(web.base + "/healthz", timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def running_web(args: list[str], env: dict[str, str], log: Path) -> Iterator[RunningWeb]:
    """`wac web ARGS` on a free port, once it answers /healthz; at the end SIGTERM, and
    the exit code must be 0 (a clean shutdown)."""
    port = free_port()
    env = {**env, "WAC_WEB_PORT": str(port)}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "wac", "web", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    web = RunningWeb(f"http://127.0.0.1:{port}", port, env, process, log)
    try:
        wait_for(lambda: _answers(web), 30, "wac web to answer")
        yield web
    finally:
        code, _, _ = stop(process)
    assert code == 0, web.output()
