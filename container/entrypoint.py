#!/opt/wac/bin/python
"""The wac image's entrypoint (installed as /usr/local/bin/wac-entrypoint).

1. Maps the command forms people use to a program:
   - none: `wac store` (the image's CMD too);
   - `monitor URL`, `store`, `check URL`, `--help` ...: `wac ...` (wac is the entrypoint);
   - the seed's compose commands `wac.monitor URL`, `wac.store_results`: `python -m ...`;
   - `-m wac.monitor URL`: `python -m ...`;
   - `python ...`, `wac ...`, `sh ...`, `bash ...` or an absolute path: run as given.
2. Started as root (the default), it runs that program as a non-root user who can read the
   work folder's files: the owner of the work folder when that is not root (a folder of
   the host user mounted on /usr/src/app, as the seed's compose does), else the image's
   `wac` user (uid 10001). When that user cannot read the Kafka certificates
   (KAFKA_CERT_DIR, default ./certs; e.g. a 0600 service.key of another owner), they are
   copied to a private in-memory folder owned by it and KAFKA_CERT_DIR points there.
   Started as another user (`--user`), it changes nothing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP_USER = "wac"
RUN_AS_GIVEN = frozenset({"python", "python3", "python3.11", "wac", "sh", "bash", "env"})
SEED_MODULES = ("wac.",)
KEY_FILES = ("ca.pem", "service.cert", "service.key")


class EntrypointError(Exception):
    """A problem the user must fix; one line, exit code 2."""


def command_for(args: list[str]) -> list[str]:
    """The program and arguments to run for the container's command `args`."""
    if not args:
        return ["wac", "store"]  # as the image's CMD: the seed's store service had no command
    first = args[0]
    if first.startswith(SEED_MODULES):
        return ["python", "-m", *args]
    if first == "-m":
        return ["python", *args]
    if first in RUN_AS_GIVEN or first.startswith("/"):
        return list(args)
    return ["wac", *args]


@dataclass(frozen=True)
class RunUser:
    uid: int
    gid: int
    home: str


def run_user(workdir: Path) -> RunUser:
    """The owner of the work folder when that is not root, else the image's app user."""
    owner = workdir.stat()
    if owner.st_uid != 0:
        try:
            home = pwd.getpwuid(owner.st_uid).pw_dir
        except KeyError:
            home = "/tmp"  # noqa: S108 (a uid without an account: nowhere else is writable)
        return RunUser(owner.st_uid, owner.st_gid, home)
    app = pwd.getpwnam(APP_USER)
    return RunUser(app.pw_uid, app.pw_gid, app.pw_dir)


def _allows(info: os.stat_result, user: RunUser, read: bool) -> bool:
    """Whether the mode bits of `info` let `user` read it (`read`) or search it."""
    if info.st_uid == user.uid:
        bit = stat.S_IRUSR if read else stat.S_IXUSR
    elif info.st_gid == user.gid:
        bit = stat.S_IRGRP if read else stat.S_IXGRP
    else:
        bit = stat.S_IROTH if read else stat.S_IXOTH
    return bool(info.st_mode & bit)


def enterable_by(folder: Path, user: RunUser) -> bool:
    try:
        return _allows(folder.stat(), user, read=False)
    except OSError:
        return False


def readable_by(path: Path, user: RunUser) -> bool:
    """Whether `user` may read `path` (the file's mode, and search on its folder)."""
    try:
        return _allows(path.parent.stat(), user, read=False) and _allows(
            path.stat(), user, read=True
        )
    except OSError:
        return False


def dotenv(workdir: Path) -> dict[str, str]:
    path = workdir / ".env"
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def cert_dir(env: Mapping[str, str], workdir: Path) -> Path:
    """KAFKA_CERT_DIR as wac reads it: the environment, then .env, then ./certs."""
    raw = env.get("KAFKA_CERT_DIR") or dotenv(workdir).get("KAFKA_CERT_DIR") or "./certs"
    return workdir / raw


def copy_certs(source: Path, user: RunUser, parent: Path | None = None) -> Path:
    """The certificate files of `source` copied into a new folder only `user` can read."""
    if parent is None:
        shm = Path("/dev/shm")  # noqa: S108 (memory, not disk; mkdtemp makes a private folder)
        parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    target = Path(tempfile.mkdtemp(prefix="wac-certs-", dir=parent))
    for entry in source.iterdir():
        if entry.is_file():
            copy = target / entry.name
            shutil.copyfile(entry, copy)
            os.chmod(copy, 0o600)
            os.chown(copy, user.uid, user.gid)
    os.chown(target, user.uid, user.gid)
    return target


def prepare(env: dict[str, str], workdir: Path) -> RunUser:
    """As root: choose the user, make the certificates readable for it (updating `env`),
    and check that it can read the settings file."""
    user = run_user(workdir)
    if not enterable_by(workdir, user):
        raise EntrypointError(
            f"the work folder {workdir} cannot be entered by uid {user.uid}: make it "
            "readable (e.g. chmod 0755), or run the container with --user of its owner"
        )
    certs = cert_dir(env, workdir)
    present = [certs / name for name in KEY_FILES if (certs / name).is_file()]
    if present and not all(readable_by(path, user) for path in present):
        env["KAFKA_CERT_DIR"] = str(copy_certs(certs, user))
    settings = workdir / ".env"
    if settings.is_file() and not readable_by(settings, user):
        raise EntrypointError(
            f"{settings} cannot be read by uid {user.uid}: make it readable by that user "
            "(e.g. chmod 0644 .env), or run the container with --user of its owner"
        )
    env["HOME"] = user.home
    return user


def drop_to(user: RunUser) -> None:
    os.setgroups([])
    os.setgid(user.gid)
    os.setuid(user.uid)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = command_for(args)
    env = dict(os.environ)
    if os.geteuid() == 0:
        try:
            user = prepare(env, Path.cwd())
        except EntrypointError as exc:
            print(f"wac-entrypoint: {exc}", file=sys.stderr)
            return 2
        drop_to(user)
    try:
        os.execvpe(command[0], command, env)  # noqa: S606 (running the command is the job)
    except OSError as exc:
        print(f"wac-entrypoint: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
