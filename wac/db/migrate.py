"""Versioned schema migrations, applied in order under an advisory lock.

Each package owns the SQL of its tables in its own `migrations/` folder (package data):
`wac/store/migrations` (checks, targets, dead letters), `wac/rollups/migrations`
(rollup tiers and marks), `wac/alerts/migrations` (incidents, alert state, outbox).
`available_migrations` collects every package's files into one list in the global
order of their versions (`NNNN_name.sql`; a version belongs to one file only). Each
file runs once, in its own transaction, and is recorded in `wac_schema_migrations`
by version and file name. The lock makes several processes starting together safe:
the first applies, the others wait and then find nothing to do.
"""

from __future__ import annotations

import logging
from importlib import resources
from importlib.resources.abc import Traversable

import psycopg

log = logging.getLogger(__name__)

# An arbitrary constant that identifies wac's migration lock among advisory locks.
MIGRATION_LOCK_KEY = 0x7761635F6D6967  # "wac_mig"


def migration_folders() -> list[Traversable]:
    """The `migrations/` folder of every wac package that has one."""
    return sorted(
        (
            package / "migrations"
            for package in resources.files("wac").iterdir()
            if package.is_dir() and (package / "migrations").is_dir()
        ),
        key=str,
    )


def available_migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration file shipped with wac, in version order."""
    found: dict[int, tuple[int, str, str]] = {}
    for folder in migration_folders():
        for entry in folder.iterdir():
            if not entry.name.endswith(".sql"):
                continue
            version = int(entry.name.split("_", 1)[0])
            if version in found:
                raise RuntimeError(
                    f"migration version {version} is taken twice: {found[version][1]} and "
                    f"{entry.name}; give the new file the next free version"
                )
            found[version] = (version, entry.name, entry.read_text(encoding="utf-8"))
    return [found[version] for version in sorted(found)]


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply the migrations this database lacks; returns the names applied."""
    applied: list[str] = []
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS wac_schema_migrations ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM wac_schema_migrations")}
        for version, name, sql in available_migrations():
            if version in done:
                continue
            with conn.transaction():
                conn.execute(sql.encode())
                conn.execute(
                    "INSERT INTO wac_schema_migrations (version, name) VALUES (%s, %s)",
                    (version, name),
                )
            log.info("applied migration %s", name)
            applied.append(name)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
        conn.autocommit = False
    return applied
