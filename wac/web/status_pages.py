"""`wac web`'s public side: status pages, their feeds, badges, and the pages and notices API.

Routes and who may use them (`access`):

- public, without the token: `/status/SLUG` (the page), `/status/SLUG/api` (its JSON),
  `/status/SLUG/feed.atom`, `/public/status.js|css` (the page's own script and style),
  `/public/dom.js` (the helpers it shares with the dashboard), and `/badge/...` of a
  target listed on a page;
- the read token (`WAC_WEB_TOKEN`, as the rest of the dashboard): badges of any other
  target, `GET /api/pages`, `GET /api/pages/SLUG`, `GET /api/pages/SLUG/notices`;
- the admin token (`WAC_WEB_ADMIN_TOKEN`, bearer only, so a browser's remembered basic
  credentials can never post for a page): `PUT /api/pages/SLUG` (create or replace a
  page), `DELETE /api/pages/SLUG`, `POST /api/pages/SLUG/notices`,
  `DELETE /api/pages/SLUG/notices/ID`.

Pages come from the targets file (`--config`) and from the API (the `status_pages`
table, wac.pages.stored, read again every `API_PAGES_TTL_S`, so every `wac web` serves
a page written through any of them, without a restart). The file's pages win: the API
answers 409 to a write of a slug the file defines. A page written through the API is
checked as the file's are, and may list the targets the store has seen or managed ones.

A public answer names nothing but the page's own targets: the page's queries name its
targets only, and an error never repeats the path it was asked for (a badge of an
unknown or unlisted target is the same 401 whether the target exists or not). Public
answers are computed at most once per `VIEW_TTL_S` / `BADGE_TTL_S` per page or badge,
however many clients ask, and carry an ETag (a matching `If-None-Match` is a 304).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import html
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any, TypeVar

from aiohttp import web

from wac.db.connect import connect_reader
from wac.errors import ConfigError, ServiceUnavailable
from wac.pages import badges, notices, stored
from wac.pages.config import StatusPage, parse_page
from wac.pages.feed import render_feed
from wac.pages.read import badge_facts, page_view
from wac.reports.status import target_exists
from wac.safe_text import visible
from wac.yaml_config import shown

T = TypeVar("T")
VIEW_TTL_S = 15.0
BADGE_TTL_S = 60.0
PAGE_MAX_AGE_S = 30
FEED_MAX_AGE_S = 60
PUBLIC_BADGE_MAX_AGE_S = 300
PRIVATE_BADGE_MAX_AGE_S = 60
MAX_NOTICE_BYTES = 64 * 1024
PUBLIC_FILES = {
    "dom.js": "text/javascript",
    "status.js": "text/javascript",
    "status.css": "text/css",
}
PUBLIC_ROUTES = frozenset(
    {
        "/status/{slug}",
        "/status/{slug}/api",
        "/status/{slug}/feed.atom",
        "/public/{file}",
        "/badge/{rest}",  # the handler asks for the token unless the target is listed
    }
)
ADMIN_ROUTES = frozenset(
    {
        "/api/pages/{slug}",
        "/api/pages/{slug}/notices",
        "/api/pages/{slug}/notices/{id}",
        "/api/targets/{id}",  # wac/web/targets_api.py: its writes need the admin token
    }
)
NO_PAGE = "no such status page"
API_PAGES_TTL_S = 2.0  # a page written through another `wac web` is served within this
MAX_PAGE_BYTES = 256 * 1024
RunQuery = Callable[..., Awaitable[Any]]


def access(route: str, method: str) -> str:
    """`public`, `admin` (the handler checks the admin token) or `token` (the guard checks
    WAC_WEB_TOKEN) for a request to `route` (aiohttp's canonical name)."""
    if route in PUBLIC_ROUTES:
        return "public"
    if route in ADMIN_ROUTES and method != "GET":
        return "admin"
    return "token"


def bearer_matches(header: str | None, secret: str) -> bool:
    if not header or not header.isascii():
        return False
    scheme, _, value = header.partition(" ")
    given = value.strip().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given, secret.encode())


class TTLCache:
    """Values computed at most once per `ttl` seconds per key, even when many requests
    ask at once (they wait for the one computing); at most `size` keys, oldest dropped."""

    def __init__(self, ttl: float, size: int = 512) -> None:
        self.ttl = ttl
        self.size = size
        self._values: dict[Any, tuple[float, Any]] = {}
        self._locks: dict[Any, asyncio.Lock] = {}
        self._generation = 0  # moved by clear(): what was being computed then is not kept

    async def get(self, key: Any, compute: Callable[[], Awaitable[T]]) -> T:
        hit = self._values.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self._values.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
            generation = self._generation
            value = await compute()
            if generation != self._generation:
                return value  # computed from what clear() made stale: served once, not kept
            self._values.pop(key, None)
            while len(self._values) >= self.size:
                oldest = next(iter(self._values))
                del self._values[oldest]
                self._locks.pop(oldest, None)
            self._values[key] = (time.monotonic() + self.ttl, value)
            return value

    def drop(self, key: Any) -> None:
        self._values.pop(key, None)

    def clear(self) -> None:
        self._values.clear()
        self._generation += 1


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def cached_response(
    request: web.Request, body: bytes, content_type: str, cache_control: str
) -> web.Response:
    """200 with the body, or 304 when the client holds this very body (If-None-Match)."""
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": cache_control}
    given = request.headers.get("If-None-Match", "")
    if etag in (tag.strip() for tag in given.split(",")) or given.strip() == "*":
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)


@dataclass
class StatusPages:
    pages: Mapping[str, StatusPage]
    run_query: RunQuery
    postgres_url: str
    token: str | None
    admin_token: str | None
    authorized: Callable[[str | None, str], bool]  # the dashboard's token check

    def __post_init__(self) -> None:
        # `pages` are the targets file's; the API's are read from `status_pages`.
        self._api_pages: dict[str, StatusPage] = {}
        self._api_read_at: float | None = None
        self._api_lock = asyncio.Lock()
        self.listed = frozenset(t for p in self.pages.values() for t in p.target_ids)
        self.views = TTLCache(VIEW_TTL_S, size=max(16, len(self.pages)))
        self.badges = TTLCache(BADGE_TTL_S, size=1024)

    async def _all_pages(self) -> dict[str, StatusPage]:
        """The file's pages and the API's (read again every API_PAGES_TTL_S); a slug of
        the file wins (the API refuses to write one)."""
        async with self._api_lock:
            now = time.monotonic()
            if self._api_read_at is None or now - self._api_read_at >= API_PAGES_TTL_S:
                # The database away (logged): the pages read last are served.
                with contextlib.suppress(web.HTTPServiceUnavailable):
                    self._api_pages = await self.run_query(stored.load_pages)
                self._api_read_at = now
                merged = {**self._api_pages, **self.pages}
                self.listed = frozenset(t for p in merged.values() for t in p.target_ids)
        return {**self._api_pages, **self.pages}

    def _forget_api_pages(self) -> None:
        self._api_read_at = None

    def replace_file_pages(self, pages: Iterable[StatusPage]) -> None:
        """The targets file's pages, read again (SIGHUP): served from the next request;
        the views and badges computed for the old ones are dropped."""
        self.pages = {p.slug: p for p in pages}
        self.listed = frozenset(t for p in self.pages.values() for t in p.target_ids)
        self.views.clear()
        self.badges.clear()
        self._forget_api_pages()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/status/{slug}", self.page)
        app.router.add_get("/status/{slug}/api", self.page_api)
        app.router.add_get("/status/{slug}/feed.atom", self.feed)
        app.router.add_get("/public/{file}", self.public_file)
        app.router.add_get("/badge/{rest:.+}", self.badge)
        app.router.add_get("/api/pages", self.list_pages)
        app.router.add_get("/api/pages/{slug}", self.get_page)
        app.router.add_put("/api/pages/{slug}", self.put_page)
        app.router.add_delete("/api/pages/{slug}", self.delete_page)
        app.router.add_get("/api/pages/{slug}/notices", self.list_notices)
        app.router.add_post("/api/pages/{slug}/notices", self.add_notice)
        app.router.add_delete("/api/pages/{slug}/notices/{id}", self.delete_notice)

    # ------------------------------------------------------------------ pages
    async def _page(self, request: web.Request) -> StatusPage:
        page = (await self._all_pages()).get(request.match_info["slug"])
        if page is None:
            raise web.HTTPNotFound(text=NO_PAGE)
        return page

    async def _view(self, page: StatusPage) -> dict[str, Any]:
        result: dict[str, Any] = await self.views.get(
            page.slug, lambda: self.run_query(page_view, page)
        )
        return result

    async def page(self, request: web.Request) -> web.StreamResponse:
        page = await self._page(request)
        body = (
            _static("status.html")
            .replace("{{slug}}", page.slug)
            .replace("{{title}}", html.escape(visible(page.title)))
            .replace("{{description}}", html.escape(visible(page.description)))
        )
        return cached_response(
            request, body.encode(), "text/html", f"public, max-age={PAGE_MAX_AGE_S}"
        )

    async def page_api(self, request: web.Request) -> web.StreamResponse:
        view = await self._view(await self._page(request))
        body = json.dumps({**view, "refresh_s": PAGE_MAX_AGE_S}).encode()
        return cached_response(
            request, body, "application/json", f"public, max-age={int(VIEW_TTL_S)}"
        )

    async def feed(self, request: web.Request) -> web.StreamResponse:
        view = await self._view(await self._page(request))
        return cached_response(
            request,
            render_feed(view),
            "application/atom+xml",
            f"public, max-age={FEED_MAX_AGE_S}",
        )

    async def public_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["file"]
        kind = PUBLIC_FILES.get(name)
        if kind is None:
            raise web.HTTPNotFound()
        return cached_response(request, _static(name).encode(), kind, "no-cache")

    # ----------------------------------------------------------------- badges
    async def badge(self, request: web.Request) -> web.StreamResponse:
        try:
            wanted = badges.parse_badge_path(request.match_info["rest"])
        except badges.BadBadge as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        await self._all_pages()  # the API's pages' targets have public badges too
        public = wanted.target in self.listed
        if not public:
            if self.token and not self.authorized(request.headers.get("Authorization"), self.token):
                raise web.HTTPUnauthorized(
                    text="this badge needs the token (only targets on a status page have "
                    "public badges): Bearer TOKEN, or basic auth with TOKEN as the password",
                    headers={"WWW-Authenticate": 'Basic realm="wac", charset="UTF-8"'},
                )
            exists = await self.badges.get(
                ("exists", wanted.target), lambda: self.run_query(target_exists, wanted.target)
            )
            if not exists:
                raise web.HTTPNotFound(text="no such target")
        facts = await self.badges.get(
            (wanted.target, wanted.kind, wanted.window),
            lambda: self.run_query(badge_facts, wanted.target, wanted.window, wanted.kind),
        )
        badge = badges.badge_for(wanted, facts)
        max_age = PUBLIC_BADGE_MAX_AGE_S if public else PRIVATE_BADGE_MAX_AGE_S
        cache = f"{'public' if public else 'private'}, max-age={max_age}"
        if wanted.format == "json":
            body = json.dumps(badge.to_shields(max_age)).encode()
            return cached_response(request, body, "application/json", cache)
        return cached_response(request, badges.render_svg(badge).encode(), "image/svg+xml", cache)

    # ---------------------------------------------------------------- notices
    async def list_pages(self, request: web.Request) -> web.StreamResponse:
        pages = await self._all_pages()  # the file's, in its order, then the API's by slug
        slugs = [*self.pages, *sorted(s for s in pages if s not in self.pages)]
        return web.json_response({"pages": [self._shown(pages[slug]) for slug in slugs]})

    def _shown(self, page: StatusPage) -> dict[str, Any]:
        return {**page.to_json(), "source": "file" if page.slug in self.pages else "api"}

    async def get_page(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self._shown(await self._page(request)))

    async def put_page(self, request: web.Request) -> web.StreamResponse:
        self._check_admin(request, "writing status pages")
        slug = request.match_info["slug"]
        self._not_the_files(slug)
        fields = await self._json_body(request, '{"title": "...", "groups": [...]}')
        if fields.get("slug", slug) != slug:
            raise web.HTTPBadRequest(text=f"slug must be the slug of the path, {slug[:64]!r}")
        try:
            page = parse_page({**fields, "slug": slug}, f"status page {slug[:64]!r}")
        except ConfigError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        unknown = await self.run_query(stored.unknown_targets, page.target_ids)
        if unknown:
            raise web.HTTPBadRequest(
                text=f"status page {slug!r}: target {shown(unknown[0])} is not known (no check "
                "of it is stored and it is not a managed target): a typo would be a page "
                "that stays empty"
            )
        created = await self._write(stored.save_page, page)
        self._forget_api_pages()
        self.views.drop(slug)
        return web.json_response(self._shown(page), status=201 if created else 200)

    async def delete_page(self, request: web.Request) -> web.StreamResponse:
        self._check_admin(request, "writing status pages")
        slug = request.match_info["slug"]
        self._not_the_files(slug)
        if not await self._write(stored.delete_page, slug):
            raise web.HTTPNotFound(text=NO_PAGE)
        self._forget_api_pages()
        self.views.drop(slug)
        return web.Response(status=204)

    def _not_the_files(self, slug: str) -> None:
        if slug in self.pages:
            raise web.HTTPConflict(
                text=f"status page {slug!r} is defined in the targets file (--config), which "
                "wins: change it there, or give this page another slug"
            )

    async def _json_body(self, request: web.Request, example: str) -> dict[str, Any]:
        raw = await request.read()
        if len(raw) > MAX_PAGE_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_PAGE_BYTES, actual_size=len(raw))
        refusal = f"the body must be a JSON object such as {example}"
        try:
            fields = json.loads(raw)
        except (ValueError, RecursionError):  # also bytes that are not UTF-8
            raise web.HTTPBadRequest(text=refusal) from None
        if not isinstance(fields, dict):
            raise web.HTTPBadRequest(text=refusal)
        return fields

    async def list_notices(self, request: web.Request) -> web.StreamResponse:
        page = await self._page(request)
        found = await self.run_query(notices.list_notices, page.slug)
        now = datetime.now(UTC)
        return web.json_response({"notices": [n.to_json(now, with_id=True) for n in found]})

    def _check_admin(self, request: web.Request, what: str = "writing notices") -> None:
        if not self.admin_token:
            raise web.HTTPForbidden(
                text="notices cannot be written through the API: set WAC_WEB_ADMIN_TOKEN "
                "(or use `wac notice add`)"
                if what == "writing notices"
                else f"{what} through the API needs WAC_WEB_ADMIN_TOKEN set"
            )
        if not bearer_matches(request.headers.get("Authorization"), self.admin_token):
            raise web.HTTPUnauthorized(
                text=f"{what} needs the admin token: Authorization: Bearer WAC_WEB_ADMIN_TOKEN",
                headers={"WWW-Authenticate": 'Bearer realm="wac-admin"'},
            )

    async def add_notice(self, request: web.Request) -> web.StreamResponse:
        self._check_admin(request)
        page = await self._page(request)
        raw = await request.read()  # aiohttp refuses a body over 1 MiB itself
        if len(raw) > MAX_NOTICE_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_NOTICE_BYTES, actual_size=len(raw))
        try:
            fields = json.loads(raw)
        except ValueError:  # also bytes that are not UTF-8
            raise web.HTTPBadRequest(
                text='the body must be a JSON object such as {"title": "...", "kind": "info"}'
            ) from None
        if not isinstance(fields, dict):
            raise web.HTTPBadRequest(text="the body must be a JSON object of notice fields")
        try:
            wanted = notices.parse_notice(page.slug, fields)
        except ConfigError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        added = await self._write(notices.add_notice, wanted)
        self.views.drop(page.slug)
        return web.json_response(added.to_json(datetime.now(UTC), with_id=True), status=201)

    async def delete_notice(self, request: web.Request) -> web.StreamResponse:
        self._check_admin(request)
        page = await self._page(request)
        text = request.match_info["id"]
        if not (text.isascii() and text.isdigit() and len(text) <= 18):
            raise web.HTTPBadRequest(text="a notice id is a whole number (see GET .../notices)")
        if not await self._write(notices.delete_notice, int(text), page.slug):
            raise web.HTTPNotFound(text="no such notice on this page")
        self.views.drop(page.slug)
        return web.Response(status=204)

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(conn, *args)` on a connection of its own (the pool's are read-only)."""

        def work() -> T:
            with connect_reader(self.postgres_url, "wac-web-admin") as conn:
                return fn(conn, *args)

        try:
            return await asyncio.get_running_loop().run_in_executor(None, work)
        except ServiceUnavailable:
            raise web.HTTPServiceUnavailable(text="database unavailable; retry shortly") from None


def _static(name: str) -> str:
    return resources.files("wac.web").joinpath("static", name).read_text(encoding="utf-8")
