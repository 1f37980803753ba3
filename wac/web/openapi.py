"""The OpenAPI 3.1 document of `wac web`'s JSON API, served at `/api/openapi.json`.

Written by hand beside the routes; a test fails when an `/api/` route or method of the
application is missing here (or listed here but not served). The target definition's
schema is the targets topic's own (`wac.targets.definition.definition_json_schema`).
"""

from __future__ import annotations

from typing import Any

from wac import __version__
from wac.targets.definition import definition_json_schema

JSON = "application/json"


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*statuses: int) -> dict[str, Any]:
    words = {
        400: "bad input; `field` names the field to blame",
        401: "authentication required (WAC_WEB_TOKEN for reads, the admin token for writes)",
        403: "writes are off: WAC_WEB_ADMIN_TOKEN is not set",
        404: "not found",
        413: "body too large",
        503: "PostgreSQL or Kafka unavailable; retry shortly",
    }
    return {str(s): _json(_ref("Error"), words[s]) for s in statuses}


def _query(name: str, description: str, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def openapi_document() -> dict[str, Any]:
    definition = definition_json_schema()
    definition.pop("$schema", None)
    body = {**definition, "required": [], "title": "target fields"}
    body["description"] = (
        "A targets-file entry as JSON. PUT: `url` is required, `name` defaults to the id "
        "of the path and must equal it, `v` may be left out. PATCH: only the fields to "
        "change. `***` (as reads show credentials and secret headers) keeps the stored value."
    )
    shown = {
        **definition,
        "title": "managed target",
        "properties": {"id": {"type": "string"}, **definition["properties"]},
        "required": ["id", "v", "url"],
        "description": "A definition as reads show it: credentials and secret header "
        "values as `***`.",
    }
    target_id = _path("id", "the target id (its `name`), percent-encoded")
    slug = _path("slug", "the status page's slug")
    read_errors = _errors(401, 503)
    write_errors = _errors(400, 401, 403, 404, 413, 503)
    written = {
        "202": {
            "description": "published to the targets topic; the store's mirror has not "
            "shown it yet (no store running, or it lags)"
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wac web API",
            "version": __version__,
            "description": (
                "The dashboard's JSON API. Reads need `Authorization: Bearer WAC_WEB_TOKEN` "
                "(or basic auth with it as the password) when that is set; writes need "
                "`Authorization: Bearer WAC_WEB_ADMIN_TOKEN`. Errors are "
                '`{"error": "...", "field": "..."}`.'
            ),
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}, "field": {"type": "string"}},
                },
                "TargetFields": body,
                "Target": shown,
                "Notice": {"type": "object", "description": "a notice of a status page"},
            },
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "WAC_WEB_TOKEN"},
                "admin": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "WAC_WEB_ADMIN_TOKEN",
                },
            },
        },
        "security": [{"token": []}],
        "paths": {
            "/api/openapi.json": {
                "get": {
                    "summary": "this document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                }
            },
            "/api/overview": {
                "get": {
                    "summary": (
                        "one page of the targets with their status and uptimes (the "
                        "dashboard's front page): searched, filtered, sorted"
                    ),
                    "parameters": [
                        _query("q", "targets whose id or URL holds this text, any case"),
                        _query("status", "up, down, unknown; several with commas or repeated"),
                        _query(
                            "sort",
                            "status (default), name, since, checked, response, cert, "
                            "uptime_24h, uptime_7d or uptime_30d",
                        ),
                        _query("order", "asc (default) or desc"),
                        _query("page", "the page, from 1 (default 1)"),
                        _query("limit", "targets a page, 1 to 500 (default 50)"),
                    ],
                    "responses": {
                        "200": _json({"type": "object"}, "the overview"),
                        **_errors(400),
                        **read_errors,
                    },
                }
            },
            "/api/target": {
                "get": {
                    "summary": (
                        "one target's detail: its probe and the phases it fills, the latest "
                        "check's details, series, incidents, failure runs, errors"
                    ),
                    "parameters": [
                        _query("name", "the target id", required=True),
                        _query("range", "1h, 24h (default), 7d or 30d"),
                    ],
                    "responses": {
                        "200": _json({"type": "object"}, "the detail"),
                        **_errors(400, 401, 404, 503),
                    },
                }
            },
            "/api/report": {
                "get": {
                    "summary": "`wac report --json` over a window",
                    "parameters": [
                        _query("since", "a duration such as 24h (default) or 7d"),
                        _query("target", "a target id; repeat for several"),
                    ],
                    "responses": {
                        "200": _json({"type": "object"}, "the report"),
                        **_errors(400, 401, 503),
                    },
                }
            },
            "/api/push/{token}": {
                "parameters": [_path("token", "the push target's token (its `token_env`)")],
                **{
                    method: {
                        "summary": "a heartbeat ping: the push target of this token is up",
                        "security": [],  # the token in the path is the secret
                        "responses": {
                            "200": _json({"type": "object"}, "the ping, noted and published"),
                            **_errors(404, 503),
                        },
                    }
                    for method in ("get", "post")
                },
            },
            "/api/pages": {
                "get": {
                    "summary": "the status pages",
                    "responses": {"200": _json({"type": "object"}, "the pages"), **read_errors},
                }
            },
            "/api/pages/{slug}/notices": {
                "parameters": [slug],
                "get": {
                    "summary": "a page's notices",
                    "responses": {
                        "200": _json({"type": "object"}, "the notices"),
                        **_errors(401, 404, 503),
                    },
                },
                "post": {
                    "summary": "post a notice",
                    "security": [{"admin": []}],
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": _ref("Notice")}},
                    },
                    "responses": {"201": _json(_ref("Notice"), "the notice"), **write_errors},
                },
            },
            "/api/pages/{slug}/notices/{id}": {
                "parameters": [slug, _path("id", "the notice's id")],
                "delete": {
                    "summary": "delete a notice",
                    "security": [{"admin": []}],
                    "responses": {"204": {"description": "deleted"}, **write_errors},
                },
            },
            "/api/targets": {
                "get": {
                    "summary": "the managed targets (the store's mirror of the targets topic)",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "targets": {"type": "array", "items": _ref("Target")}
                                },
                            },
                            "every managed target, by id",
                        ),
                        **read_errors,
                    },
                }
            },
            "/api/targets/{id}": {
                "parameters": [target_id],
                "get": {
                    "summary": "one managed target",
                    "responses": {
                        "200": _json(_ref("Target"), "the target"),
                        **_errors(401, 404, 503),
                    },
                },
                "put": {
                    "summary": "create or replace a managed target",
                    "security": [{"admin": []}],
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": _ref("TargetFields")}},
                    },
                    "responses": {
                        "200": _json(_ref("Target"), "replaced"),
                        "201": _json(_ref("Target"), "created"),
                        **written,
                        **write_errors,
                    },
                },
                "patch": {
                    "summary": 'change some fields of a managed target, e.g. {"paused": true}',
                    "security": [{"admin": []}],
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": _ref("TargetFields")}},
                    },
                    "responses": {
                        "200": _json(_ref("Target"), "changed"),
                        **written,
                        **write_errors,
                    },
                },
                "delete": {
                    "summary": "delete a managed target (a tombstone in the topic)",
                    "security": [{"admin": []}],
                    "responses": {
                        "204": {"description": "deleted"},
                        **written,
                        **write_errors,
                    },
                },
            },
        },
    }
