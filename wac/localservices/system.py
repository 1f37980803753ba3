"""Finding (and, as root, installing) the programs the local services need."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from wac.localservices.errors import ServiceError
from wac.localservices.proc import with_log_tail


def is_root() -> bool:
    return os.geteuid() == 0


def apt_install(packages: list[str], log: Path, why: str) -> None:
    """``apt-get update && apt-get install -y PACKAGES`` (root only), output to ``log``."""
    names = " ".join(packages)
    if not is_root():
        raise ServiceError(
            f"{why} is missing. Install it with `sudo apt-get install -y {names}` "
            "(or run this as root, which installs it automatically)."
        )
    if shutil.which("apt-get") is None:
        raise ServiceError(f"{why} is missing and apt-get is not available to install {names}.")
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with log.open("ab") as out:
        for argv in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "-q", *packages],
        ):
            out.write(f"\n$ {' '.join(argv)}\n".encode())
            out.flush()
            rc = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            ).returncode
            if rc != 0:
                raise ServiceError(
                    with_log_tail(f"`{' '.join(argv)}` failed (exit {rc}) installing {why}.", log)
                )


def java_binary(log: Path) -> str:
    """The ``java`` to run Kafka with: $JAVA_HOME/bin/java, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return installed_command(
        "java", "openjdk-17-jre-headless", "Java", "17 or newer, needed by Kafka", log
    )


def maven_binary(log: Path) -> str:
    return installed_command("mvn", "maven", "Maven", "mvn, needed once to fetch Kafka's jars", log)


def installed_command(command: str, package: str, name: str, why: str, log: Path) -> str:
    """`command` on PATH, installing Debian's `package` first when it is not there."""
    found = shutil.which(command)
    if found:
        return found
    apt_install([package], log, f"{name} ({why})")
    found = shutil.which(command)
    if not found:
        raise ServiceError(f"{name} was installed but `{command}` is still not on PATH.")
    return found
