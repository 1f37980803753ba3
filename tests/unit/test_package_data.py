"""An installed wheel carries what the services read from the package: Kafka's Maven
project and log4j2 configuration (wac services), every package's migrations, the
dashboard's static files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DATA = {
    "wac/localservices/kafka_files/pom.xml",
    "wac/localservices/kafka_files/log4j2.xml",
    "wac/store/migrations/0001_checks.sql",
    "wac/store/migrations/0002_targets.sql",
    "wac/store/migrations/0050_target_status.sql",
    "wac/store/migrations/0130_checks_probe.sql",
    "wac/store/migrations/0140_managed_targets.sql",
    "wac/rollups/migrations/0010_rollups.sql",
    "wac/rollups/migrations/0030_rollup_dirty.sql",
    "wac/rollups/migrations/0051_drop_rollup_targets.sql",
    "wac/rollups/migrations/0131_rollup_probe_kinds.sql",
    "wac/rollups/migrations/0150_rollup_reads.sql",
    "wac/rollups/migrations/0153_rollup_week.sql",
    "wac/rollups/migrations/0154_rollup_minute10_hour6.sql",
    "wac/alerts/migrations/0020_alerts.sql",
    "wac/pages/migrations/0040_status_notices.sql",
    "wac/pages/migrations/0152_status_pages.sql",
    "wac/heartbeat/migrations/0145_push_pings.sql",
    "wac/web/static/index.html",
}


def test_the_wheel_has_the_package_data_and_the_installed_package_finds_it(
    tmp_path: Path,
) -> None:
    # Built from a copy: no build/ folder left in the checkout, none of its stale files taken.
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".wac", "build", "*.egg-info", "__pycache__", ".*_cache", "certs"
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=240,
    )
    (wheel,) = tmp_path.glob("wac-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert set(archive.namelist()) >= PACKAGE_DATA
        archive.extractall(tmp_path / "site")
    # From the unpacked wheel, never the checkout: the paths the code computes exist.
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import wac; assert wac.__file__.startswith(sys.argv[1]), wac.__file__;"
        "from wac.localservices.paths import Paths;"
        "from wac.db.migrate import available_migrations;"
        "p = Paths(__import__('pathlib').Path(sys.argv[1]));"
        "assert p.kafka_pom.is_file() and p.kafka_log4j.is_file();"
        "print(','.join(name for _, name, _ in available_migrations()))"
    )
    shown = subprocess.run(
        [sys.executable, "-P", "-c", probe, str(tmp_path / "site")],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.stdout.strip() == ",".join(
        sorted(Path(name).name for name in PACKAGE_DATA if name.endswith(".sql"))
    )
