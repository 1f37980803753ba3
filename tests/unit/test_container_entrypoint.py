"""The image's entrypoint: command forms, the user it runs as, certificates it can read."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.containers import load_script

entrypoint = load_script("entrypoint")
NOBODY = pwd.getpwnam("nobody")  # stands for the image's `wac` user on this machine


@pytest.fixture(autouse=True)
def app_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entrypoint, "APP_USER", "nobody")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ["wac", "store"]),
        (["store"], ["wac", "store"]),
        (["monitor", "https://a/"], ["wac", "monitor", "https://a/"]),
        (["--help"], ["wac", "--help"]),
        (["wac.monitor", "https://a/", "--period", "5"],
         ["python", "-m", "wac.monitor", "https://a/", "--period", "5"]),
        (["wac.store_results"], ["python", "-m", "wac.store_results"]),
        (["-m", "wac.monitor", "https://a/"], ["python", "-m", "wac.monitor", "https://a/"]),
        (["python", "-m", "wac.monitor", "https://a/"], ["python", "-m", "wac.monitor", "https://a/"]),
        (["wac", "check", "https://a/"], ["wac", "check", "https://a/"]),
        (["sh", "-c", "id"], ["sh", "-c", "id"]),
        (["/bin/true"], ["/bin/true"]),
    ],
)  # fmt: skip
def test_command_forms(args: list[str], expected: list[str]) -> None:
    assert entrypoint.command_for(args) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=20), max_size=6))
def test_any_command_keeps_its_arguments_in_order(args: list[str]) -> None:
    command = entrypoint.command_for(args)
    assert command and command[0] in {"wac", "python"} | set(args[:1])
    assert command[len(command) - len(args) :] == args


def folder(path: Path, owner: tuple[int, int], mode: int = 0o755) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, *owner)
    path.chmod(mode)
    return path


def certs(workdir: Path, owner: tuple[int, int], key_mode: int = 0o600) -> Path:
    cert_dir = folder(workdir / "certs", owner)
    for name, mode in (("ca.pem", 0o644), ("service.cert", 0o644), ("service.key", key_mode)):
        (cert_dir / name).write_text(f"{name} content\n")
        os.chown(cert_dir / name, *owner)
        (cert_dir / name).chmod(mode)
    return cert_dir


def test_a_host_users_folder_runs_as_that_user_with_its_own_key(tmp_path: Path) -> None:
    workdir = folder(tmp_path / "app", (1000, 1000))
    certs(workdir, (1000, 1000))
    env: dict[str, str] = {}
    user = entrypoint.prepare(env, workdir)
    assert (user.uid, user.gid) == (1000, 1000)
    assert "KAFKA_CERT_DIR" not in env  # readable where it is


def test_a_root_folder_runs_as_the_app_user_with_a_private_copy_of_the_certs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = folder(tmp_path / "app", (0, 0))
    certs(workdir, (0, 0))  # service.key 0600, root's
    copies = folder(tmp_path / "shm", (0, 0), 0o1777)
    real_copy = entrypoint.copy_certs
    monkeypatch.setattr(entrypoint, "copy_certs", lambda src, user: real_copy(src, user, copies))
    env: dict[str, str] = {}
    user = entrypoint.prepare(env, workdir)
    assert (user.uid, user.gid) == (NOBODY.pw_uid, NOBODY.pw_gid)
    copy = Path(env["KAFKA_CERT_DIR"])
    assert copy.parent == copies
    assert copy.stat().st_uid == NOBODY.pw_uid and copy.stat().st_mode & 0o077 == 0
    for name in ("ca.pem", "service.cert", "service.key"):
        assert (copy / name).read_text() == f"{name} content\n"
        assert (copy / name).stat().st_uid == NOBODY.pw_uid
        assert (copy / name).stat().st_mode & 0o777 == 0o600
        assert entrypoint.readable_by(copy / name, user)
    assert env["HOME"] == NOBODY.pw_dir


def test_cert_dir_from_the_env_file_relative_to_the_work_folder(tmp_path: Path) -> None:
    workdir = folder(tmp_path / "app", (0, 0))
    (workdir / ".env").write_text("KAFKA_CERT_DIR=keys\n")
    assert entrypoint.cert_dir({}, workdir) == workdir / "keys"
    assert entrypoint.cert_dir({"KAFKA_CERT_DIR": "/run/certs"}, workdir) == Path("/run/certs")
    (workdir / ".env").unlink()
    assert entrypoint.cert_dir({}, workdir) == workdir / "certs"


def test_readable_by_follows_owner_group_and_other_bits(tmp_path: Path) -> None:
    user = entrypoint.RunUser(1000, 1000, "/tmp")
    file = folder(tmp_path / "dir", (0, 0)) / "file"
    file.write_text("x")
    for owner, mode, readable in [
        ((1000, 0), 0o400, True), ((1000, 0), 0o040, False),
        ((0, 1000), 0o040, True), ((0, 1000), 0o404, False),
        ((0, 0), 0o004, True), ((0, 0), 0o640, False),
    ]:  # fmt: skip
        os.chown(file, *owner)
        file.chmod(mode)
        assert entrypoint.readable_by(file, user) is readable, (owner, oct(mode))
    file.chmod(0o644)
    (tmp_path / "dir").chmod(0o700)  # a folder it cannot enter
    assert not entrypoint.readable_by(file, user)


def test_unreadable_env_file_or_work_folder_is_a_clear_error(tmp_path: Path) -> None:
    workdir = folder(tmp_path / "app", (0, 0))
    (workdir / ".env").write_text("POSTGRES_ENDPOINT=postgresql://u:secret@h/db\n")
    (workdir / ".env").chmod(0o600)
    with pytest.raises(entrypoint.EntrypointError, match=r"\.env cannot be read by uid \d+") as err:
        entrypoint.prepare({}, workdir)
    assert "secret" not in str(err.value)
    workdir.chmod(0o700)
    with pytest.raises(entrypoint.EntrypointError, match="cannot be entered"):
        entrypoint.prepare({}, workdir)
