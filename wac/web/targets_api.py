"""The targets API of `wac web`: managed targets, read from the store's mirror and
written to the targets topic.

- `GET /api/targets`, `GET /api/targets/{id}`: from `managed_targets`, the store's mirror
  of the topic (a query, not a read of the whole log); credentials in URLs and secret
  header values are shown as `***`. The list comes in pages, by id: `limit` targets
  (1 to 1000, 100 by default) after `cursor`, the `next_cursor` of the page before
  (null on the last page); a keyset query on the primary key, so a page costs the same
  at any depth and a target added or deleted meanwhile shifts no other;
- `PUT /api/targets/{id}` (create or replace), `PATCH /api/targets/{id}` (change some
  fields, e.g. `{"paused": true}`), `DELETE /api/targets/{id}`: published to the targets
  topic, the source of truth, with `Authorization: Bearer WAC_WEB_ADMIN_TOKEN`. A `***`
  written back keeps the stored secret. The answer waits (a few seconds at most) for
  the mirror to show the write, so a read that follows sees it: 200/201 when it does,
  202 when the write is in the topic but the mirror has not caught up yet.

A body is a targets-file entry as JSON (`wac schema --targets`; `v` may be left out,
`name` defaults to the id of the path; an `id`, as reads show it, must be the path's),
checked by the same field table as the file.
Errors are JSON: `{"error": "...", "field": "interval"}`, the field when one is to blame.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from aiohttp import web

from wac import limits
from wac.db.connect import connect_reader
from wac.errors import ConfigError, ServiceUnavailable, first_line
from wac.targets.definition import (
    VERSION,
    BadDefinition,
    Definition,
    definition_from_json,
    definition_to_json,
    masked_json,
    unmask,
)
from wac.targets.fields import TARGET_PARSERS
from wac.targets_topic import TargetsTopicSettings, ensure_targets_topic, publish_definitions

MAX_BODY_BYTES = 256 * 1024
MIRROR_WAIT_S = 5.0
DEFAULT_PAGE = 100  # targets in a page of GET /api/targets
MAX_PAGE = 1000
ROUTES = ("/api/targets", "/api/targets/{id}")
RunQuery = Callable[..., Awaitable[Any]]
CheckAdmin = Callable[[web.Request, str], None]


class FieldError(web.HTTPBadRequest):
    """A 400 whose JSON names the field to blame."""

    def __init__(self, text: str, field: str | None) -> None:
        super().__init__(text=text)
        self.field = field


def blamed_field(body: Mapping[str, Any], message: str) -> str | None:
    """The field a refusal of `body` is about: the first whose own parser refuses it, an
    unknown key, or the one the message starts with."""
    for key, raw in body.items():
        if key in ("v", "paused"):
            if f": {key} must" in message:
                return key
            continue
        parse = TARGET_PARSERS.get(key)
        if parse is None:
            return str(key)
        try:
            parse(raw, "x")
        except ConfigError:
            return str(key)
    for key in ("url", *TARGET_PARSERS):
        if f"`{key}`" in message or f": {key} " in message:
            return key
    return None


def list_rows(conn: psycopg.Connection, after: str | None, limit: int) -> list[tuple[str, Any]]:
    """Up to `limit` rows by id, those after the id `after` (from the first without)."""
    if after is None:
        return conn.execute(
            "SELECT target, definition FROM managed_targets ORDER BY target LIMIT %s", (limit,)
        ).fetchall()
    return conn.execute(
        "SELECT target, definition FROM managed_targets WHERE target > %s ORDER BY target LIMIT %s",
        (after, limit),
    ).fetchall()


def page_cursor(target_id: str) -> str:
    """The opaque cursor of the page after `target_id` (URL-safe base64 of the id)."""
    return base64.urlsafe_b64encode(target_id.encode()).decode().rstrip("=")


def page_of(query: Mapping[str, str]) -> tuple[str | None, int]:
    """(the id the page starts after, its size) of `?cursor=&limit=`; FieldError naming
    the parameter otherwise."""
    raw_limit = query.get("limit", str(DEFAULT_PAGE))
    if not (raw_limit.isascii() and raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_PAGE):
        raise FieldError(
            f"limit must be a whole number from 1 to {MAX_PAGE}, got {raw_limit[:40]!r}", "limit"
        )
    cursor = query.get("cursor")
    if cursor is None or cursor == "":
        return None, int(raw_limit)
    try:
        after = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if len(cursor) > 2 * limits.MAX_NAME_CHARS or page_cursor(after) != cursor:
            raise ValueError(cursor)
    except ValueError:  # binascii.Error and UnicodeDecodeError included
        raise FieldError(
            "cursor is not one this API gave: pass the next_cursor of the page before, "
            "or leave it out for the first page",
            "cursor",
        ) from None
    return after, int(raw_limit)


def one_row(conn: psycopg.Connection, target_id: str) -> Any | None:
    row = conn.execute(
        "SELECT definition FROM managed_targets WHERE target = %s", (target_id,)
    ).fetchone()
    return None if row is None else row[0]


@dataclass
class TargetsApi:
    postgres_url: str
    topic: TargetsTopicSettings | None  # None: KAFKA_ENDPOINT unset, writes refused
    run_query: RunQuery
    check_admin: CheckAdmin

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/targets", self.list_targets)
        app.router.add_get("/api/targets/{id}", self.get_target)
        app.router.add_put("/api/targets/{id}", self.put_target)
        app.router.add_patch("/api/targets/{id}", self.patch_target)
        app.router.add_delete("/api/targets/{id}", self.delete_target)

    # ------------------------------------------------------------------ reads
    async def list_targets(self, request: web.Request) -> web.StreamResponse:
        after, limit = page_of(request.query)
        rows = await self.run_query(list_rows, after, limit + 1)  # one more: a next page?
        more = len(rows) > limit
        rows = rows[:limit]
        shown = [self._shown(target_id, value) for target_id, value in rows]
        return web.json_response(
            {
                "targets": [s for s in shown if s is not None],
                "next_cursor": page_cursor(rows[-1][0]) if more else None,
            }
        )

    async def get_target(self, request: web.Request) -> web.StreamResponse:
        target_id = request.match_info["id"]
        current = await self._current(target_id)
        if current is None:
            raise web.HTTPNotFound(text=f"no managed target {target_id[:200]!r}")
        return web.json_response({"id": current.id, **masked_json(current)})

    def _shown(self, target_id: str, value: Any) -> dict[str, Any] | None:
        try:
            definition = definition_from_json(value, key=target_id)
        except BadDefinition:
            return None  # the mirror holds only valid definitions; never seen
        return {"id": target_id, **masked_json(definition)}

    async def _current(self, target_id: str) -> Definition | None:
        value = await self.run_query(one_row, target_id)
        if value is None:
            return None
        try:
            return definition_from_json(value, key=target_id)
        except BadDefinition:
            return None

    # ------------------------------------------------------------------ writes
    async def put_target(self, request: web.Request) -> web.StreamResponse:
        target_id = self._writable(request)
        body = await self._body(request)
        current = await self._current(target_id)
        definition = self._checked(target_id, body, current)
        return await self._publish(target_id, definition, created=current is None)

    async def patch_target(self, request: web.Request) -> web.StreamResponse:
        target_id = self._writable(request)
        body = await self._body(request)
        current = await self._current(target_id)
        if current is None:
            raise web.HTTPNotFound(text=f"no managed target {target_id[:200]!r}: PUT creates one")
        merged = {**definition_to_json(current), **body}
        return await self._publish(target_id, self._checked(target_id, merged, current))

    async def delete_target(self, request: web.Request) -> web.StreamResponse:
        target_id = self._writable(request)
        if await self._current(target_id) is None:
            raise web.HTTPNotFound(text=f"no managed target {target_id[:200]!r}")
        return await self._publish(target_id, None)

    def _writable(self, request: web.Request) -> str:
        self.check_admin(request, "writing targets")
        if self.topic is None:
            raise web.HTTPServiceUnavailable(
                text="targets cannot be written: wac web has no Kafka (set KAFKA_ENDPOINT)"
            )
        return request.match_info["id"]

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if len(raw) > MAX_BODY_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=len(raw))
        try:
            body = json.loads(raw)
        except ValueError:  # also bytes that are not UTF-8, and nesting too deep
            raise FieldError(
                'the body must be a JSON object such as {"url": "https://example.com/"}', None
            ) from None
        except RecursionError:
            raise FieldError("the body is nested too deep", None) from None
        if not isinstance(body, dict):
            raise FieldError("the body must be a JSON object of target fields", None)
        return body

    def _checked(
        self, target_id: str, body: dict[str, Any], current: Definition | None
    ) -> Definition:
        fields = {"v": VERSION, **body}
        # An `id`, as reads show it, must be this id; it is not a field.
        if "id" in fields and fields.pop("id") != target_id:
            raise FieldError(f"id must be the id of the path, {target_id[:200]!r}", "id")
        fields.setdefault("name", target_id)
        if fields.get("name") is None:
            fields["name"] = target_id
        try:
            definition = definition_from_json(
                unmask(fields, current), key=target_id, default_timeout=self._timeout
            )
        except BadDefinition as exc:
            message = str(exc)
            field = "name" if "is not the id" in message else blamed_field(fields, message)
            raise FieldError(message, field) from None
        return definition

    @property
    def _timeout(self) -> float:
        return self.topic.check_timeout if self.topic is not None else 1.0

    async def _publish(
        self, target_id: str, definition: Definition | None, *, created: bool = False
    ) -> web.StreamResponse:
        topic = self.topic
        assert topic is not None

        def work() -> None:
            ensure_targets_topic(topic)
            publish_definitions(topic, {target_id: definition})

        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, work)
        except ServiceUnavailable as exc:
            raise web.HTTPServiceUnavailable(text=first_line(exc)) from None
        mirrored = await loop.run_in_executor(None, self._wait_for_mirror, target_id, definition)
        if definition is None:
            return web.Response(status=204 if mirrored else 202)
        status = (201 if created else 200) if mirrored else 202
        return web.json_response({"id": target_id, **masked_json(definition)}, status=status)

    def _wait_for_mirror(self, target_id: str, definition: Definition | None) -> bool:
        """True once the store's mirror shows the write (read-your-writes for the
        dashboard); False after MIRROR_WAIT_S (no store running, or it lags)."""
        wanted = None if definition is None else definition_to_json(definition)
        deadline = time.monotonic() + MIRROR_WAIT_S
        try:
            with connect_reader(self.postgres_url, "wac-web-targets") as conn:
                while True:
                    conn.rollback()
                    if one_row(conn, target_id) == wanted:
                        return True
                    if time.monotonic() > deadline:
                        return False
                    time.sleep(0.05)
        except (ServiceUnavailable, psycopg.Error):
            return False  # written to the topic all the same: 202
