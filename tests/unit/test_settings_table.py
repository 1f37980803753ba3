"""The README's table of environment variables is the definitions' (wac.settings.variables)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from wac.settings import table
from wac.settings.variables import VARIABLES

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_table_is_generated_from_the_definitions() -> None:
    readme = (ROOT / "README.md").read_text()
    assert table.in_readme(readme) == readme, (
        "README.md's settings table differs from wac/settings/variables.py: "
        "run python -m wac.settings.table --write"
    )
    for variable in VARIABLES:
        assert f"| `{variable.name}` | {variable.shown_default} |" in readme


def test_a_drifted_readme_is_reported_with_the_fix(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text()
    readme.write_text(
        text.replace("| `KAFKA_TOPIC` | `website-monitoring` |", "| `KAFKA_TOPIC` | `x` |")
    )
    check = [sys.executable, "-m", "wac.settings.table", "--check", "--readme", str(readme)]
    done = subprocess.run(check, capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "run python -m wac.settings.table --write" in done.stderr
    subprocess.run([*check[:-3], "--write", "--readme", str(readme)], check=True)
    assert readme.read_text() == text
    assert subprocess.run(check, check=False).returncode == 0
