"""Notices of a status page (announcements and maintenance posts), kept in PostgreSQL.

`wac notice add|list|delete` and the admin API (`POST/DELETE /api/pages/SLUG/notices`)
both go through `parse_notice`, so a notice is checked the same way whichever way it
comes. Readers trust no row either: a notice written by hand with an end before its
start or a title of a megabyte is shown cut, never fails a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from wac.errors import ConfigError
from wac.pages.config import MAX_TITLE_CHARS, check_slug
from wac.reports.window import parse_time
from wac.yaml_config import shown

KINDS = ("info", "maintenance")
MAX_BODY_CHARS = 5000
PAST_SHOWN = timedelta(days=90)  # notices that ended longer ago leave the page and feed
NOTICES_SHOWN = 50
_FIELDS = {"title", "body", "kind", "starts", "ends"}


@dataclass(frozen=True)
class NoticeInput:
    page: str
    kind: str
    title: str
    body: str
    starts: datetime | None
    ends: datetime | None


@dataclass(frozen=True, kw_only=True)
class Notice(NoticeInput):
    """A notice as stored: its input, its id and when it was written."""

    id: int
    created_at: datetime
    updated_at: datetime

    def state(self, now: datetime) -> str:
        """`upcoming` before its start, `past` from its end, `current` in between."""
        if self.starts is not None and self.starts > now:
            return "upcoming"
        if self.ends is not None and self.ends <= now:
            return "past"
        return "current"

    def to_json(self, now: datetime, *, with_id: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id} if with_id else {}
        data.update(
            {
                "kind": self.kind,
                "title": self.title,
                "body": self.body,
                "starts": iso(self.starts),
                "ends": iso(self.ends),
                "created_at": iso(self.created_at),
                "updated_at": iso(self.updated_at),
                "state": self.state(now),
            }
        )
        if with_id:
            data["page"] = self.page
        return data


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_notice(page: object, fields: Mapping[str, object], where: str = "notice") -> NoticeInput:
    """A notice from outside (options or a JSON object); ConfigError naming the field."""
    for key in fields:
        if key not in _FIELDS:
            raise ConfigError(
                f"{where}: unknown field {shown(key)}; allowed: {', '.join(sorted(_FIELDS))}"
            )
    slug = check_slug(page, where)
    kind = fields.get("kind") or "info"
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind {shown(kind)} must be one of {', '.join(KINDS)}")
    title = _line(fields.get("title"), where)
    body = _body(fields.get("body"), where)
    starts = _time(fields.get("starts"), where, "starts")
    ends = _time(fields.get("ends"), where, "ends")
    if kind == "maintenance" and (starts is None or ends is None):
        raise ConfigError(f"{where}: a maintenance notice needs both starts and ends")
    if starts is not None and ends is not None and ends <= starts:
        raise ConfigError(f"{where}: ends ({iso(ends)}) must be after starts ({iso(starts)})")
    return NoticeInput(page=slug, kind=str(kind), title=title, body=body, starts=starts, ends=ends)


def _line(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"{where}: title must be a non-empty string")
    text = raw.strip()
    if len(text) > MAX_TITLE_CHARS:
        raise ConfigError(
            f"{where}: title is {len(text)} characters long; at most {MAX_TITLE_CHARS}"
        )
    if not text.isprintable():
        raise ConfigError(
            f"{where}: title must be one line of printable text (no control or invisible "
            "characters)"
        )
    return text


def _body(raw: object, where: str) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise ConfigError(f"{where}: body must be a string")
    text = raw.strip().replace("\r\n", "\n")
    if len(text) > MAX_BODY_CHARS:
        raise ConfigError(f"{where}: body is {len(text)} characters long; at most {MAX_BODY_CHARS}")
    if not all(line.isprintable() for line in text.split("\n")):
        raise ConfigError(
            f"{where}: body must be printable text (lines, without control or invisible characters)"
        )
    return text


def _time(raw: object, where: str, field_name: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > 64:
        raise ConfigError(
            f"{where}: {field_name} must be an ISO 8601 time such as 2026-06-01T22:00:00Z"
        )
    return parse_time(raw, f"{where}: {field_name}")


# --------------------------------------------------------------------------- storage


def add_notice(conn: psycopg.Connection, notice: NoticeInput) -> Notice:
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO status_notices (page, kind, title, body, starts, ends) "
            "VALUES (%s, %s, %s, %s, %s, %s) "
            "RETURNING id, page, kind, title, body, starts, ends, created_at, updated_at",
            (notice.page, notice.kind, notice.title, notice.body, notice.starts, notice.ends),
        ).fetchone()
    assert row is not None
    return _notice(row)


def delete_notice(conn: psycopg.Connection, notice_id: int, page: str | None = None) -> bool:
    """True when a notice was deleted (only one of `page`, when given)."""
    with conn.transaction():
        cur = conn.execute(
            "DELETE FROM status_notices WHERE id = %s AND (%s::text IS NULL OR page = %s)",
            (notice_id, page, page),
        )
    return cur.rowcount > 0


def list_notices(
    conn: psycopg.Connection, page: str | None = None, limit: int = 1000
) -> list[Notice]:
    """Every notice (of one page), newest first."""
    rows = conn.execute(
        "SELECT id, page, kind, title, body, starts, ends, created_at, updated_at "
        "FROM status_notices WHERE (%s::text IS NULL OR page = %s) "
        "ORDER BY created_at DESC, id DESC LIMIT %s",
        (page, page, limit),
    ).fetchall()
    return [_notice(r) for r in rows]


def page_notices(conn: psycopg.Connection, page: str, now: datetime) -> list[Notice]:
    """What a page shows: current and upcoming notices, and those that ended in the last
    90 days; upcoming and current first, then by start (or creation), newest first."""
    rows = conn.execute(
        "SELECT id, page, kind, title, body, starts, ends, created_at, updated_at "
        "FROM status_notices WHERE page = %s "
        "AND (ends IS NULL OR ends > %s) ORDER BY coalesce(starts, created_at) DESC, id DESC "
        "LIMIT %s",
        (page, now - PAST_SHOWN, NOTICES_SHOWN),
    ).fetchall()
    return [_notice(r) for r in rows]


def _notice(row: tuple[Any, ...]) -> Notice:
    """A row as a Notice, whatever it holds (rows written by hand): text cut to the
    bounds, an unknown kind read as info."""
    notice_id, page, kind, title, body, starts, ends, created, updated = row
    return Notice(
        id=int(notice_id),
        page=str(page),
        kind=kind if kind in KINDS else "info",
        title=str(title)[:MAX_TITLE_CHARS],
        body=str(body or "")[:MAX_BODY_CHARS],
        starts=starts,
        ends=ends,
        created_at=created,
        updated_at=updated,
    )
