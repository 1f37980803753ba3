#!/opt/wac/bin/python
"""The wac image's HEALTHCHECK (installed as /usr/local/bin/wac-healthcheck).

Finds the container's wac service process, then asks it over HTTP on 127.0.0.1: `wac web`
on /healthz (its --port, else WAC_WEB_PORT, else 8080); `wac monitor`, `wac store`,
`wac alert` (and the seed's `python -m wac.monitor` / `wac.store_results`) on /metrics at
their metrics port (--metrics-port, else WAC_MONITOR_METRICS_PORT, WAC_STORE_METRICS_PORT,
WAC_ALERT_METRICS_PORT, which the image sets). Settings are read as the process reads
them: its environment over the .env file of its work folder. Exit 0 when it answers 200,
or when the container runs no long-lived wac service; 1 otherwise, with the reason.
"""

from __future__ import annotations

import contextlib
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

SEED_MODULES = {"wac.monitor": "monitor", "wac.store_results": "store"}
SERVICES = {
    "monitor": ("--metrics-port", "WAC_MONITOR_METRICS_PORT", None, "/metrics"),
    "store": ("--metrics-port", "WAC_STORE_METRICS_PORT", None, "/metrics"),
    "alert": ("--metrics-port", "WAC_ALERT_METRICS_PORT", None, "/metrics"),
    "web": ("--port", "WAC_WEB_PORT", "8080", "/healthz"),
}


@dataclass(frozen=True)
class Service:
    name: str
    args: list[str]  # the arguments after the service's name


def service_of(argv: list[str]) -> Service | None:
    """The wac service a command line runs, if it runs one."""
    for index, arg in enumerate(argv):
        if arg == "-m" and index + 1 < len(argv) and argv[index + 1] in SEED_MODULES:
            return Service(SEED_MODULES[argv[index + 1]], argv[index + 2 :])
        if Path(arg).name == "wac" and index + 1 < len(argv):
            name = argv[index + 1]
            return Service(name, argv[index + 2 :]) if name in SERVICES else None
    return None


def option(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def url_of(service: Service, env: Mapping[str, str]) -> str | None:
    flag, variable, default, path = SERVICES[service.name]
    port = option(service.args, flag) or env.get(variable) or default
    return f"http://127.0.0.1:{port.strip()}{path}" if port and port.strip() else None


def processes(proc: Path = Path("/proc")) -> Iterator[tuple[list[str], dict[str, str], Path]]:
    """(argv, environment, work folder) of each process, lowest pid first.

    A process of another user hides its environment and folder (without CAP_SYS_PTRACE,
    as in containers): the healthcheck's own stand in, the container's configuration and
    work folder, which the process started from."""
    pids = sorted(int(p.name) for p in proc.iterdir() if p.name.isdigit())
    for pid in pids:
        base = proc / str(pid)
        try:
            argv = base.joinpath("cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        try:
            raw_env = base.joinpath("environ").read_bytes().split(b"\0")
            env = dict(
                item.decode(errors="replace").partition("=")[::2] for item in raw_env if item
            )
        except OSError:
            env = dict(os.environ)
        try:
            cwd = base.joinpath("cwd").resolve(strict=True)
        except OSError:
            cwd = Path.cwd()
        yield [a.decode(errors="replace") for a in argv if a], env, cwd


def settings(env: dict[str, str], workdir: Path) -> dict[str, str]:
    merged: dict[str, str] = {}
    dotenv_path = workdir / ".env"
    if dotenv_path.is_file():
        from dotenv import dotenv_values

        with contextlib.suppress(OSError):  # unreadable: the process could not read it either
            merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update(env)
    return merged


def main() -> int:
    for argv, env, cwd in processes():
        service = service_of(argv)
        if service is None:
            continue
        url = url_of(service, settings(env, cwd))
        if url is None:
            print(f"wac {service.name}: no metrics port set; nothing to ask")
            return 0
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (http://127.0.0.1 only)
                status = response.status
        except (urllib.error.URLError, OSError) as exc:
            print(f"wac {service.name}: {url} did not answer: {exc}")
            return 1
        print(f"wac {service.name}: {url} answered {status}")
        return 0 if status == 200 else 1
    print("no long-lived wac service in this container")
    return 0


if __name__ == "__main__":
    sys.exit(main())
