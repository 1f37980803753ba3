"""wac as a new user gets it, outside the checkout, along both documented paths.

- The seed's: a fresh virtualenv with `pip install -r requirements.txt`, then, from a
  clone, `python -m wac.monitor URL --period N` and `python -m wac.store_results`
  (the seed's invocations) with the endpoints in `.env`: rows land.
- The package's: the wheel installed into that virtualenv, then from an empty folder
  `wac services up`, `wac up URL` (rows land), `wac services down`, everything in that
  folder's `.wac` (its ports from `.env`) and nothing written inside the package; and
  `wac monitor` / `wac store` against given endpoints with neither Java nor PostgreSQL's
  programs reachable.

Packages come from the registry through pip's cache (the build needs setuptools).
"""

from __future__ import annotations

import hashlib
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.servers import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PIP = ["-m", "pip", "install", "-q", "--disable-pip-version-check"]


def free_run(count: int) -> int:
    """The first of `count` consecutive free ports below the ephemeral range (the local
    Kafka takes its port, +1 and +2), so no client's source port takes one meanwhile."""
    for first in random.sample(range(20000, 30000, 10), 300):
        sockets = [socket.socket() for _ in range(count)]
        try:
            for offset, sock in enumerate(sockets):
                sock.bind(("127.0.0.1", first + offset))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return first
    raise RuntimeError("no free ports")


def user_env(**extra: str) -> dict[str, str]:
    """A user's shell: no wac setting exported (they come from `.env`)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KAFKA_", "POSTGRES_", "CHECK_", "WAC_", "VIRTUAL_ENV", "PYTHON"))
    }
    return {**env, **extra}


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean copy of the checkout (what a `git clone` holds)."""
    target = tmp_path_factory.mktemp("clone") / "wac"
    shutil.copytree(
        ROOT,
        target,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            ".wac",
            "build",
            "*.egg-info",
            "__pycache__",
            ".*_cache",
            "certs",
            ".env",
            ".cache",
        ),
    )
    return target


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, clone: Path) -> Path:
    """A fresh virtualenv with the seed's `pip install -r requirements.txt`."""
    folder = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=120)
    subprocess.run(
        [str(folder / "bin" / "python"), *PIP, "-r", str(clone / "requirements.txt")],
        check=True,
        timeout=600,
        capture_output=True,
    )
    return folder


def start(
    argv: list[str], cwd: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in process.stdout or []:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return process, lines


def stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    return process.wait(timeout=60)


def rows_of(postgres: str, target: str) -> int:
    with psycopg.connect(postgres) as conn:
        row = conn.execute("SELECT count(*) FROM checks WHERE target = %s", (target,)).fetchone()
    return int(row[0]) if row else 0


def wait_rows(postgres: str, target: str, count: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while (found := rows_of(postgres, target)) < count and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


def own_topic(services_env: dict[str, str]) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return {
        **{k: v for k, v in services_env.items() if k != "KAFKA_TOPIC"},
        "KAFKA_TOPIC": f"wac-installed-{suffix}",
        "KAFKA_GROUP_ID": f"wac-installed-{suffix}",
    }


def test_the_seed_readme_path_from_a_clone(
    venv: Path, clone: Path, site: str, services_env: dict[str, str]
) -> None:
    python = str(venv / "bin" / "python")
    settings = own_topic(services_env)
    (clone / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    env = user_env()
    where = subprocess.run(
        [python, "-c", "import wac; print(wac.__file__)"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(clone / "wac" / "__init__.py")  # the clone's, not installed
    usage = subprocess.run(
        [python, "-m", "wac.monitor", "--help"], cwd=clone, env=env, capture_output=True, text=True
    )
    assert usage.stdout.startswith("Usage: python -m wac.monitor [OPTIONS] [URLS]...")
    url = f"{site}/ok?seed={uuid.uuid4().hex}"
    store, store_lines = start([python, "-m", "wac.store_results", "--period", "2"], clone, env)
    monitor, _ = start([python, "-m", "wac.monitor", url, "--period", "0.5"], clone, env)
    try:
        found = wait_rows(settings["POSTGRES_ENDPOINT"], f"GET {url}", 3)
    finally:
        assert stop(monitor) == 0
        time.sleep(1)
        assert stop(store) == 0
    output = "".join(store_lines.queue)
    assert found >= 3, output
    assert "ignoring --period 2" in output


@pytest.fixture(scope="module")
def installed(venv: Path, clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the clone, installed into the virtualenv; returns its `wac`."""
    wheels = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(clone), "--no-deps", "-q", "-w", str(wheels)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("wac-*.whl")
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, *PIP, "-c", str(clone / "requirements.txt"), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return venv / "bin" / "wac"


def package_files(venv: Path) -> set[str]:
    site = next(venv.glob("lib/python*/site-packages/wac"))
    return {str(p.relative_to(site)) for p in site.rglob("*") if "__pycache__" not in p.parts}


@pytest.fixture
def anywhere(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "anywhere"
    folder.mkdir()
    yield folder
    # As root, PostgreSQL's files go to /var/lib/wac/<hash of the home> when the postgres
    # user cannot enter the home (pytest's folders are 0700).
    digest = hashlib.sha256(str((folder / ".wac").resolve()).encode()).hexdigest()[:12]
    shutil.rmtree(Path("/var/lib/wac") / digest, ignore_errors=True)


def test_the_wheel_runs_the_local_services_and_wac_up_from_an_empty_folder(
    installed: Path, venv: Path, site: str, anywhere: Path
) -> None:
    kafka_port, postgres_port = free_run(3), free_run(1)
    (anywhere / ".env").write_text(
        f"WAC_KAFKA_PORT={kafka_port}\nWAC_POSTGRES_PORT={postgres_port}\n"
        f"WAC_WEB_PORT={free_port()}\nKAFKA_PARTITIONS=2\n"
    )
    env = user_env(PATH=f"{venv / 'bin'}:{os.environ['PATH']}")
    wac = str(installed)
    before = package_files(venv)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [wac, *args], cwd=anywhere, env=env, capture_output=True, text=True, timeout=300
        )

    started = time.monotonic()
    up = run("services", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        print(f"wac services up: {time.monotonic() - started:.1f} s\n{up.stdout}")
        assert f"kafka: 127.0.0.1:{kafka_port + 1}" in up.stdout  # the ports of .env
        assert f"postgres: 127.0.0.1:{postgres_port}" in up.stdout
        assert (anywhere / ".wac" / "certs" / "service.key").is_file()
        assert run("services", "status").returncode == 0
        pointers = dict(
            line.removeprefix("export ").split("=", 1)
            for line in run("services", "env").stdout.splitlines()
        )
        postgres = pointers["POSTGRES_ENDPOINT"].strip("'")
        url = f"{site}/ok?anywhere={uuid.uuid4().hex}"
        process, lines = start([wac, "up", url, "--period", "0.5"], anywhere, env)
        stored: list[str] = []
        deadline = time.monotonic() + 90
        try:
            while len(stored) < 3 and time.monotonic() < deadline:
                try:
                    line = lines.get(timeout=1)
                except queue.Empty:
                    continue
                if " stored " in line and url in line:
                    stored.append(line)
        finally:
            code = stop(process, signal.SIGINT)
        output = "".join(lines.queue)
        assert len(stored) == 3 and code == 0, output
        print("".join(stored))
        assert rows_of(postgres, f"GET {url}") >= 3
    finally:
        down = run("services", "down")
    assert down.returncode == 0, down.stderr
    assert run("services", "status").returncode == 3
    assert package_files(venv) == before  # nothing written inside the installed package
    assert not list(venv.rglob(".wac"))


def test_remote_endpoints_need_neither_java_nor_postgresql(
    installed: Path, venv: Path, site: str, services_env: dict[str, str], tmp_path: Path
) -> None:
    """`wac monitor` and `wac store` against given endpoints: no java, mvn, pg_ctl or
    initdb on the PATH, WAC_PG_BIN pointing nowhere; nothing of the local services made."""
    settings = own_topic(services_env)
    env = user_env(PATH=str(venv / "bin"), WAC_PG_BIN=str(tmp_path / "none"), **settings)
    assert shutil.which("java", path=env["PATH"]) is None
    assert shutil.which("pg_ctl", path=env["PATH"]) is None
    url = f"{site}/ok?remote={uuid.uuid4().hex}"
    store, store_lines = start([str(installed), "store"], tmp_path, env)
    monitor, _ = start([str(installed), "monitor", url, "--period", "0.5"], tmp_path, env)
    try:
        found = wait_rows(settings["POSTGRES_ENDPOINT"], f"GET {url}", 3)
    finally:
        assert stop(monitor) == 0
        time.sleep(1)
        assert stop(store) == 0
    assert found >= 3, "".join(store_lines.queue)
    assert not (tmp_path / ".wac").exists()
