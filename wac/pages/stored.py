"""Status pages created through the API, stored in PostgreSQL (`status_pages`).

A page is kept in its JSON form (`StatusPage.to_json`) and read back through the same
checks as the targets file's (`page_from_json`); a row that no longer passes them (a
limit lowered since) is skipped and named in one warning, never served half-read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

import psycopg

from wac.errors import ConfigError
from wac.pages.config import StatusPage, page_from_json

log = logging.getLogger(__name__)


def load_pages(conn: psycopg.Connection) -> dict[str, StatusPage]:
    """Every stored page, by slug."""
    found: dict[str, StatusPage] = {}
    for slug, value in conn.execute("SELECT slug, page FROM status_pages ORDER BY slug"):
        try:
            found[slug] = page_from_json(value)
        except ConfigError as exc:
            log.warning("stored status page %r skipped: %s", slug, exc)
    return found


def save_page(conn: psycopg.Connection, page: StatusPage) -> bool:
    """Create or replace the page; True when it was created."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO status_pages (slug, page) VALUES (%s, %s::jsonb)"
            " ON CONFLICT (slug) DO UPDATE SET page = EXCLUDED.page, updated_at = now()"
            " RETURNING (xmax = 0)",
            (page.slug, json.dumps(page.to_json())),
        ).fetchone()
    return bool(row and row[0])


def delete_page(conn: psycopg.Connection, slug: str) -> bool:
    """Delete the page; False when there was none."""
    with conn.transaction():
        deleted = conn.execute("DELETE FROM status_pages WHERE slug = %s", (slug,)).rowcount
    return deleted > 0


def unknown_targets(conn: psycopg.Connection, ids: Iterable[str]) -> list[str]:
    """The ids of `ids` that are neither a target the store has seen nor a managed one."""
    wanted = list(dict.fromkeys(ids))
    known = {
        row[0]
        for row in conn.execute(
            "SELECT target FROM targets WHERE target = ANY(%s)"
            " UNION SELECT target FROM managed_targets WHERE target = ANY(%s)",
            (wanted, wanted),
        )
    }
    return [i for i in wanted if i not in known]
