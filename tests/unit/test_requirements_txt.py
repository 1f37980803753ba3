"""requirements.txt: the runtime dependencies of pyproject.toml, pinned as requirements.lock."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "requirements_txt.py"
DEV_TOOLS = ("pytest", "mypy", "playwright", "ruff", "hypothesis", "pre-commit", "aiosmtpd")


def pins(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return {canonicalize_name(n): v for n, _, v in (line.partition("==") for line in lines)}


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", *args], capture_output=True, text=True
    )


def test_requirements_txt_is_what_pyproject_and_the_lock_give() -> None:
    done = check()
    assert done.returncode == 0, done.stderr


def test_every_runtime_dependency_pinned_as_in_the_lock_and_no_dev_tool() -> None:
    runtime = pins(ROOT / "requirements.txt")
    lock = pins(ROOT / "requirements.lock")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"]:
        assert canonicalize_name(Requirement(text).name) in runtime, text
    assert "psycopg-binary" in runtime  # the extra of psycopg[binary] is followed
    for name, version in runtime.items():
        assert lock[name] == version, name
    assert not set(map(canonicalize_name, DEV_TOOLS)) & set(runtime)


def test_a_stale_file_is_reported_with_the_fix(tmp_path: Path) -> None:
    stale = tmp_path / "requirements.txt"
    text = (ROOT / "requirements.txt").read_text()
    stale.write_text(text.replace("click==", "click>="))
    done = check("--output", str(stale))
    assert done.returncode == 1
    assert "-click>=" in done.stderr and "+click==" in done.stderr
    assert "run make requirements" in done.stderr
