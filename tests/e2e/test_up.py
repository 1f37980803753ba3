"""`wac up` as a user runs it: results printed as they land in PostgreSQL, Ctrl-C stops all."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest

from tests.support.kafka_read import read_topic

pytestmark = pytest.mark.integration


def test_up_prints_stored_results_and_stops_on_ctrl_c(
    site: str, isolated_env: dict[str, str]
) -> None:
    url = f"{site}/ok?run={uuid.uuid4().hex}"
    process = subprocess.Popen(
        [sys.executable, "-m", "wac", "up", url, "--period", "0.5"],
        env=isolated_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in process.stdout or []:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    stored: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while len(stored) < 3 and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if "stored" in line and url in line:
                stored.append(line)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    stderr = process.stderr.read() if process.stderr else ""
    assert len(stored) == 3, stderr
    assert all(" UP " in line and " 200 " in line for line in stored), stored
    assert code == 0, stderr
    assert "monitor stopped" in stderr and "store stopped" in stderr
    with psycopg.connect(isolated_env["POSTGRES_ENDPOINT"]) as conn:
        count = conn.execute(
            "SELECT count(*) FROM checks WHERE target = %s", (f"GET {url}",)
        ).fetchone()
    # Stopped in order (monitor first, then the store): what was produced is stored.
    produced = len(read_topic(isolated_env))
    assert count is not None and count[0] == produced >= 3


def test_up_refuses_bad_targets_before_starting_anything(isolated_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wac", "up", "not-a-url"],
        env=isolated_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "must start with http://, https://" in result.stderr
