"""`wac web`: the dashboard (aiohttp.web), its JSON API and /metrics.

Reads are GETs. The writes are the targets API (PUT, PATCH, DELETE /api/targets/{id},
wac/web/targets_api.py: to the targets topic) and notices (wac/web/status_pages.py),
both behind WAC_WEB_ADMIN_TOKEN, and the heartbeat pings (`/api/push/<token>`, GET or
POST, wac/web/push.py: public, the token is the secret). Pages are static HTML shells
whose scripts (wac/web/static/, no external asset) fetch the JSON API. Queries run in
threads on a small psycopg pool, each in one REPEATABLE READ read-only transaction.
The process also runs the rollup job (wac.rollups.job) in a background thread unless
told not to. `/api/openapi.json` documents every /api route (wac/web/openapi.py).

Auth: with WAC_WEB_TOKEN set, every route but /healthz, the heartbeat pings and the
public status pages and badges (wac/web/status_pages.py says which) needs either
`Authorization: Bearer TOKEN` or HTTP basic auth with TOKEN as the password (any
user name: what a browser prompts for). The token is compared in constant time and
never logged (the access log has no headers).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from wac.db.connect import connect_reader, error_text, reader_pool
from wac.errors import described
from wac.pages.config import StatusPage
from wac.targets_topic import TargetsTopicSettings
from wac.web import data
from wac.web.metrics import WebMetrics
from wac.web.openapi import openapi_document
from wac.web.overview_query import QueryError, parse_overview_query
from wac.web.push import ROUTE as PUSH_ROUTE
from wac.web.push import PushReceiver
from wac.web.rollup_thread import RollupThread
from wac.web.served_file import ServedFile, reload_on_hangup
from wac.web.status_pages import StatusPages, access, bearer_matches
from wac.web.targets_api import FieldError, TargetsApi

log = logging.getLogger(__name__)

REFRESH_S = 15
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
PLAIN_ERRORS = {
    404: "not found: no such page, file or API route",
    405: "method not allowed: see /api/openapi.json for each route's methods",
}
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


@dataclass(frozen=True)
class WebConfig:
    postgres_url: str
    token: str | None = None
    run_rollups: bool = True
    rollup_interval_s: float = 15.0
    pool_size: int = 4
    pages: tuple[StatusPage, ...] = ()  # public status pages (wac/web/status_pages.py)
    admin_token: str | None = None  # writes notices and targets through the API
    targets_topic: TargetsTopicSettings | None = None  # where the targets API writes
    push: PushReceiver | None = None  # heartbeat pings (wac/web/push.py)
    # The targets file read again on SIGHUP (wac/web/served_file.py); None: no --config.
    reread_file: Callable[[], ServedFile] | None = None
    file_source: str = ""


def authorized(header: str | None, token: str) -> bool:
    """True when the Authorization header carries the token (bearer, or basic password).

    Total: any header, however malformed, is False rather than an exception (the guard
    answers 400 to one that is not ASCII before this is asked).
    """
    if not header or not header.isascii():
        return False
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return hmac.compare_digest(value.encode(), token.encode())
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
            return False
        _, sep, password = decoded.partition(":")
        return bool(sep) and hmac.compare_digest(password.encode(), token.encode())
    return False


def input_problem(request: web.BaseRequest, token: str | None) -> str | None:
    """Why this request's input cannot be served (a 400), or None.

    The one check all input passes before any handler: values no handler can use
    (nothing the database holds has a NUL; no file name has a control character) are
    refused here, so hostile input never reaches a handler as an exception.
    """
    if any(ord(c) < 0x20 or c == "\x7f" or 0xD800 <= ord(c) < 0xE000 for c in request.path):
        return "the path holds a control character"
    for key, value in request.query.items():
        for text, what in ((key, "name"), (value, "value")):
            if "\x00" in text or not _encodable(text):
                return (
                    f"a query parameter {what} ({key[:30]!a}) holds a NUL or a character "
                    "that is not UTF-8"
                )
    header = request.headers.get("Authorization")
    if token and header is not None and not (header.isascii() and header.isprintable()):
        return (
            "the Authorization header must be printable ASCII: Bearer TOKEN, or Basic "
            "with base64 of user:TOKEN"
        )
    return None


class OneLineProtocolErrors(logging.Filter):
    """aiohttp logs a request it cannot parse (bytes that are not HTTP, a line over
    8 KiB) at ERROR with a traceback; this makes it one WARNING line, without the bytes.

    Such a request never reaches the application: aiohttp answers it 400 itself.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.args = (record.getMessage(), type(exc).__name__, exc.code)
            record.msg = "%s: %s (answered %d)"
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_protocol_errors() -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, OneLineProtocolErrors) for f in server_log.filters):
        server_log.addFilter(OneLineProtocolErrors())


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def create_app(config: WebConfig, registry: CollectorRegistry | None = None) -> web.Application:
    registry = registry or CollectorRegistry()
    metrics = WebMetrics(registry)
    pool = reader_pool(config.postgres_url, size=config.pool_size, application_name="wac-web")

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every request: input checks, auth, errors as clear answers, metrics.

        Whatever happens below, the answer is a response: an HTTP error keeps its status
        with its message (JSON under /api/); any other exception is logged in one line
        and answered 500 without details.
        """
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "unmatched"
        started = time.monotonic()
        response: web.StreamResponse
        try:
            problem = input_problem(request, config.token)
            if problem is not None:
                raise web.HTTPBadRequest(text=problem)
            token = config.token
            if (
                token
                and name not in ("/healthz", PUSH_ROUTE)
                and access(name, request.method) == "token"
                and not authorized(request.headers.get("Authorization"), token)
            ):
                raise web.HTTPUnauthorized(
                    text="authentication required: Bearer TOKEN, or basic auth with TOKEN "
                    "as the password",
                    headers={"WWW-Authenticate": 'Basic realm="wac", charset="UTF-8"'},
                )
            response = await handler(request)
        except web.HTTPException as exc:
            text = exc.text or ""
            if text.strip() in ("", f"{exc.status}: {exc.reason}"):  # aiohttp's own words
                text = PLAIN_ERRORS.get(exc.status, exc.reason.lower())
            field = exc.field if isinstance(exc, FieldError) else None
            response = error_response(request, exc.status, text, exc.headers, field=field)
        except Exception as exc:
            log.error("%s %s failed: %s", request.method, name, described(exc))
            response = error_response(request, 500, "internal error: see the server's log")
        metrics.requests.labels(name, str(response.status)).inc()
        metrics.request_seconds.labels(name).observe(time.monotonic() - started)
        return response

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        """On every response prepared for a request, errors included."""
        response.headers.update(SECURITY_HEADERS)
        if request.path.startswith("/api/") or response.status >= 400:
            response.headers["Cache-Control"] = "no-store"

    app = web.Application(middlewares=[guard])
    app.on_response_prepare.append(add_headers)

    async def run_query(fn: Callable[..., Any], *args: Any) -> Any:
        def work() -> Any:
            with pool.connection() as conn:
                return fn(conn, *args)

        try:
            return await asyncio.get_running_loop().run_in_executor(None, work)
        except data.NotFound:
            raise web.HTTPNotFound(text="no such target") from None
        except psycopg.OperationalError as exc:
            log.warning("database unavailable: %s", error_text(exc, config.postgres_url))
            raise web.HTTPServiceUnavailable(text="database unavailable; retry shortly") from None

    def page(name: str) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(
                text=_static_text(name),
                content_type="text/html",
                headers={"Cache-Control": "no-cache"},
            )

        return handler

    async def static(request: web.Request) -> web.StreamResponse:
        filename = request.match_info["file"]
        suffix = filename[filename.rfind(".") :]
        if suffix not in STATIC_TYPES or "/" in filename or filename.startswith("."):
            raise web.HTTPNotFound()
        try:
            body = _static_text(filename)
        except FileNotFoundError:
            raise web.HTTPNotFound() from None
        return web.Response(
            text=body,
            content_type=STATIC_TYPES[suffix],
            headers={"Cache-Control": "no-cache"},
        )

    async def api_overview(request: web.Request) -> web.StreamResponse:
        try:
            query = parse_overview_query(request.query.items())
        except QueryError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        result = await run_query(data.overview, query)
        result["refresh_s"] = REFRESH_S
        return web.json_response(result)

    async def api_target(request: web.Request) -> web.StreamResponse:
        name = request.query.get("name")
        range_name = request.query.get("range", "24h")
        if not name:
            raise web.HTTPBadRequest(text="give the target id as ?name=")
        if range_name not in data.RANGES:
            raise web.HTTPBadRequest(text=f"range must be one of {', '.join(data.RANGES)}")
        result = await run_query(data.target_detail, name, range_name)
        result["refresh_s"] = REFRESH_S
        return web.json_response(result)

    async def api_report(request: web.Request) -> web.StreamResponse:
        from wac.errors import ConfigError
        from wac.reports.report import build_report
        from wac.reports.window import parse_duration

        try:
            since = parse_duration(request.query.get("since", "24h"), "since")
        except ConfigError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        targets = request.query.getall("target", []) or None
        result = await run_query(lambda conn: build_report(conn, None, None, targets, since))
        return web.json_response(result)

    async def metrics_handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def healthz(request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok\n")

    app.router.add_get("/", page("index.html"))
    app.router.add_get("/target", page("target.html"))
    app.router.add_get("/targets", page("targets.html"))
    app.router.add_get("/static/{file}", static)
    app.router.add_get("/api/overview", api_overview)
    app.router.add_get("/api/target", api_target)
    app.router.add_get("/api/report", api_report)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz)
    status_pages = StatusPages(
        pages={p.slug: p for p in config.pages},
        run_query=run_query,
        postgres_url=config.postgres_url,
        token=config.token,
        admin_token=config.admin_token,
        authorized=authorized,
    )
    status_pages.add_routes(app)

    def serve_file(served: ServedFile) -> None:
        status_pages.replace_file_pages(served.pages)
        if config.push is not None:
            config.push.replace_file_targets(served.pushed)
        elif served.pushed:
            log.warning(
                "%s now has %d push target(s): restart wac web to take their pings (it "
                "started without any, and without KAFKA_ENDPOINT)",
                config.file_source,
                len(served.pushed),
            )

    def check_admin(request: web.Request, what: str) -> None:
        if not config.admin_token:
            raise web.HTTPForbidden(text=f"{what} through the API needs WAC_WEB_ADMIN_TOKEN set")
        if not bearer_matches(request.headers.get("Authorization"), config.admin_token):
            raise web.HTTPUnauthorized(
                text=f"{what} needs the admin token: Authorization: Bearer WAC_WEB_ADMIN_TOKEN",
                headers={"WWW-Authenticate": 'Bearer realm="wac-admin"'},
            )

    TargetsApi(config.postgres_url, config.targets_topic, run_query, check_admin).add_routes(app)

    async def api_openapi(request: web.Request) -> web.StreamResponse:
        return web.json_response(openapi_document())

    app.router.add_get("/api/openapi.json", api_openapi)
    if config.push is not None:
        config.push.add_routes(app)

    rollups: list[RollupThread] = []
    stop_reloading: list[Callable[[], None]] = []

    async def on_startup(app: web.Application) -> None:
        stop_reloading.append(reload_on_hangup(config.reread_file, serve_file, config.file_source))
        await asyncio.get_running_loop().run_in_executor(None, pool.open)
        if config.run_rollups:
            thread = RollupThread(config.postgres_url, config.rollup_interval_s, metrics)
            thread.start()
            rollups.append(thread)

    async def on_cleanup(app: web.Application) -> None:
        for remove in stop_reloading:
            remove()
        for thread in rollups:
            thread.stopping.set()
        loop = asyncio.get_running_loop()
        for thread in rollups:
            await loop.run_in_executor(None, thread.join, 30)
        await loop.run_in_executor(None, pool.close)
        if config.push is not None:
            await loop.run_in_executor(None, config.push.close)

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def error_response(
    request: web.Request,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    field: str | None = None,
) -> web.Response:
    """An error answer: JSON `{"error": message}` under /api/ (and from JSON routes
    elsewhere: `/status/SLUG/api`, `*.json` badges), one line of text otherwise. `field`:
    the field of the request's body to blame (`{"error": ..., "field": "interval"}`)."""
    message = " ".join(message.split()) or str(status)
    extra = {k: v for k, v in (headers or {}).items() if k.lower() in ("www-authenticate", "allow")}
    if request.path.startswith("/api/") or request.path.endswith(("/api", ".json")):
        body = {"error": message} if field is None else {"error": message, "field": field}
        return web.json_response(body, status=status, headers=extra)
    return web.Response(text=message + "\n", status=status, headers=extra)


def _static_text(name: str) -> str:
    return resources.files("wac.web").joinpath("static", name).read_text(encoding="utf-8")


def prepare_database(url: str) -> None:
    """Apply migrations (the rollup tables) before serving."""
    from wac.db.migrate import migrate

    with connect_reader(url, "wac-web") as conn:
        migrate(conn)
