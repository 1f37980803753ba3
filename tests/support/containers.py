"""Helpers for the container tests: podman with this machine's settings, work folders laid
out as the seed's compose mounts them, free ports."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "container"
IMAGE = os.environ.get("WAC_IMAGE", "wac:latest")


def podman(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`podman ARGS` through scripts/container/podman.sh; output captured as text."""
    done = subprocess.run(
        [str(SCRIPTS / "podman.sh"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def run_script(name: str, timeout: float = 1200, **env: str) -> str:
    """Run scripts/container/NAME; its output, or an AssertionError that shows it."""
    done = subprocess.run(
        [str(SCRIPTS / name)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **env},
    )
    if done.returncode != 0:
        raise AssertionError(f"{name} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def with_root_cert(url: str, path: str) -> str:
    """The libpq URL with sslrootcert set to `path` (a path inside the container)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "sslrootcert"]
    query.append(("sslrootcert", path))
    return urlunsplit(parts._replace(query=urlencode(query)))


def work_folder(
    path: Path, cert_source: Path, settings: dict[str, str], owner: tuple[int, int]
) -> Path:
    """A folder as the seed mounts on /usr/src/app: certs/ (ca.pem and service.cert 0644,
    service.key 0600) and .env (0644), all owned by `owner` (uid, gid)."""
    certs = path / "certs"
    certs.mkdir(parents=True)
    for name, mode in (("ca.pem", 0o644), ("service.cert", 0o644), ("service.key", 0o600)):
        shutil.copyfile(cert_source / name, certs / name)
        os.chmod(certs / name, mode)
    env_file = path / ".env"
    env_file.write_text("".join(f"{key}='{value}'\n" for key, value in settings.items()))
    os.chmod(env_file, 0o644)
    for item in (path, certs, env_file, *certs.iterdir()):
        os.chown(item, *owner)
    os.chmod(path, 0o755)
    os.chmod(certs, 0o755)
    return path


def process_uid(container: str) -> int:
    """The real uid of the container's main process."""
    status = podman("exec", container, "cat", "/proc/1/status").stdout
    line = next(row for row in status.splitlines() if row.startswith("Uid:"))
    return int(line.split()[1])


def load_script(name: str) -> ModuleType:
    """container/NAME.py (the image's entrypoint or healthcheck) imported as a module."""
    module_name = f"container_{name}"
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "container" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class Compose:
    """podman-compose on a project folder, under a project name of its own."""

    def __init__(self, folder: Path, project: str, files: list[str], env: dict[str, str]):
        self.folder = folder
        self.project = project
        self.files = files
        self.env = env

    def __call__(self, *args: str, timeout: float = 600) -> str:
        command = [str(ROOT / ".venv" / "bin" / "podman-compose"), "-p", self.project]
        for name in self.files:
            command += ["-f", name]
        engine = f'source {SCRIPTS / "engine.sh"} && exec "$@"'
        done = subprocess.run(
            ["bash", "-c", engine, "compose", *command, *args],
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **self.env},
        )
        if done.returncode != 0:
            raise AssertionError(
                f"podman-compose {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout}\n{done.stderr}"
            )
        return done.stdout + done.stderr

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def containers(self) -> list[str]:
        listed = podman(
            "ps", "-a", f"--filter=label=io.podman.compose.project={self.project}",
            "--format={{.Names}}",
        ).stdout  # fmt: skip
        return sorted(listed.split())

    def healthy(self, service: str) -> bool:
        """Runs the service's healthcheck now (podman here has no timer for it)."""
        return podman("healthcheck", "run", self.container(service), check=False).returncode == 0

    def logs(self) -> str:
        return "\n".join(
            f"--- {name}\n{podman('logs', '--tail=30', name, check=False).stderr}"
            for name in self.containers()
        )
