"""The database password in every form libpq accepts never reaches a log line or an error.

`POSTGRES_ENDPOINT` as a URL with `?password=`, as key=value pairs (psycopg's quoting, and
quoted with spaces around `=`): `wac store` starts on each and logs its start-up line with
the password masked, `wac report` reads through each, and the error paths (a wrong
password, an unreachable server, a string libpq refuses) are one line with exit 2 and
no secret.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support.processes import wac
from tests.support.servers import free_port

pytestmark = pytest.mark.integration
START_LINE = "store consuming"


def endpoint_forms(url: str) -> dict[str, tuple[str, str]]:
    """name -> (POSTGRES_ENDPOINT with the password in that form, the password)."""
    d = conninfo_to_dict(url)
    password = str(d["password"])
    host, port, root = d["host"], d["port"], str(d["sslrootcert"])
    user, dbname = d["user"], d["dbname"]  # the test session's database, not the user's
    query = (
        f"postgresql://{user}@{host}:{port}/{dbname}?password={quote(password, safe='')}"
        f"&sslmode=verify-full&sslrootcert={quote(root, safe='/')}"
    )
    pairs = (
        f"host={host} port={port} dbname={dbname} user={user} sslmode=verify-full "
        f"sslrootcert={root}"
    )
    return {
        "url ?password=": (query, password),
        "key=value": (make_conninfo(pairs, password=password), password),
        "key=value, quoted with spaces": (f"{pairs} password = '{password}' ", password),
    }


def run_store_until_started(env: dict[str, str], log: Path) -> tuple[int, str]:
    """`wac store` until it logs its start-up line, then SIGTERM: (exit code, output)."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "wac", "store"], env=env, stdout=out, stderr=out, text=True
        )
    try:
        deadline = time.monotonic() + 60
        while START_LINE not in log.read_text() and process.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(30)
    return process.returncode, log.read_text()


@pytest.mark.parametrize("form", ["url ?password=", "key=value", "key=value, quoted with spaces"])
def test_every_form_is_used_and_never_printed(
    form: str, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    endpoint, password = endpoint_forms(isolated_env["POSTGRES_ENDPOINT"])[form]
    env = {**isolated_env, "POSTGRES_ENDPOINT": endpoint}

    code, output = run_store_until_started(env, tmp_path / "store.log")
    assert code == 0, output
    start_line = next(line for line in output.splitlines() if START_LINE in line)
    assert "password=***" in start_line or "password = ***" in start_line, start_line
    report = wac(["report", "--since", "1h"], env)
    assert report.returncode == 0, report.stderr

    wrong = "wrong-" + password
    d = conninfo_to_dict(endpoint)
    unreachable_port = str(free_port())
    failures = {
        "wrong password": endpoint.replace(password, wrong),
        "unreachable": endpoint.replace(f"{d['port']}", unreachable_port, 1),
        "refused by libpq": (
            endpoint.replace(quote(password, safe=""), password + " x", 1)
            if endpoint.startswith("postgresql://")
            else endpoint.replace(f"'{password}'", f"'{password}", 1).replace(
                f"password={password}", f"password={password} x", 1
            )
        ),
    }
    outputs = []
    for what, bad in failures.items():
        assert bad != endpoint, what
        for command in (["store"], ["report", "--since", "1h"]):
            result = wac(command, {**env, "POSTGRES_ENDPOINT": bad})
            assert result.returncode == 2, (what, command, result.stderr)
            assert "Traceback" not in result.stderr
            last = result.stderr.strip().splitlines()[-1]
            assert last.startswith("wac: error: ") and "POSTGRES_ENDPOINT" in last, last
            outputs.append(result.stdout + result.stderr)
    everything = "\n".join([output, report.stdout, report.stderr, *outputs])
    assert password not in everything, "the database password leaked"
    assert wrong not in everything
