"""Migrations: each package's own SQL, collected in one global order that never changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from wac.db import migrate
from wac.db.migrate import available_migrations

# What databases already record in wac_schema_migrations (version, file name): a
# released migration keeps both forever, or a database would run it again.
RELEASED = [
    (1, "0001_checks.sql"),
    (2, "0002_targets.sql"),
    (10, "0010_rollups.sql"),
    (20, "0020_alerts.sql"),
    (30, "0030_rollup_dirty.sql"),
    (40, "0040_status_notices.sql"),
]


def test_released_migrations_keep_their_versions_names_and_order() -> None:
    found = [(version, name) for version, name, _ in available_migrations()]
    assert found[: len(RELEASED)] == RELEASED
    assert [v for v, _ in found] == sorted({v for v, _ in found})


def test_each_package_owns_the_sql_of_its_tables() -> None:
    owners = {
        Path(str(folder)).parent.name: sorted(e.name for e in folder.iterdir())
        for folder in migrate.migration_folders()
    }
    assert owners == {
        "store": [
            "0001_checks.sql",
            "0002_targets.sql",
            "0050_target_status.sql",
            "0130_checks_probe.sql",
            "0140_managed_targets.sql",
        ],
        "rollups": [
            "0010_rollups.sql",
            "0030_rollup_dirty.sql",
            "0051_drop_rollup_targets.sql",
            "0131_rollup_probe_kinds.sql",
            "0150_rollup_reads.sql",
            "0153_rollup_week.sql",
            "0154_rollup_minute10_hour6.sql",
        ],
        "alerts": ["0020_alerts.sql"],
        "pages": ["0040_status_notices.sql", "0152_status_pages.sql"],
        "heartbeat": ["0145_push_pings.sql"],
    }


def test_a_version_taken_by_two_packages_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for package in ("one", "two"):
        (tmp_path / package).mkdir()
        (tmp_path / package / f"0900_{package}.sql").write_text("SELECT 1;\n")
    monkeypatch.setattr(migrate, "migration_folders", lambda: [tmp_path / "one", tmp_path / "two"])
    taken_twice = r"version 900 is taken twice: 0900_one.sql and 0900_two"
    with pytest.raises(RuntimeError, match=taken_twice):
        available_migrations()
