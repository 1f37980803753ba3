"""Every /api route `wac web` serves, with each of its methods, is in its OpenAPI 3.1
document, and the document lists no route that is not served."""

from __future__ import annotations

import json
from pathlib import Path

from wac.config import KafkaSettings
from wac.web.app import WebConfig, create_app
from wac.web.openapi import openapi_document
from wac.web.push import PushReceiver

NOWHERE = "postgresql://nobody@127.0.0.1:1/none"


def served_api_routes() -> set[tuple[str, str]]:
    """With every optional part configured (heartbeat pings included)."""
    push = PushReceiver(
        [], NOWHERE, KafkaSettings("127.0.0.1:1", Path("certs"), "t", "c", "g", False, 1), "here"
    )
    app = create_app(WebConfig(NOWHERE, run_rollups=False, push=push))
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/") and route.method not in ("HEAD", "OPTIONS"):
            found.add((path, route.method.lower()))
    return found


def documented_routes() -> set[tuple[str, str]]:
    paths = openapi_document()["paths"]
    return {
        (path, method)
        for path, item in paths.items()
        for method in item
        if method in ("get", "put", "patch", "post", "delete")
    }


def test_every_api_route_is_documented_and_nothing_else() -> None:
    served = served_api_routes()
    assert ("/api/targets/{id}", "patch") in served
    assert ("/api/push/{token}", "post") in served
    assert served == documented_routes()


def test_the_document_is_openapi_3_1_and_json() -> None:
    document = json.loads(json.dumps(openapi_document()))
    assert document["openapi"] == "3.1.0"
    target = document["components"]["schemas"]["Target"]
    assert {"id", "url", "interval", "paused"} <= set(target["properties"])
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "put", "patch", "post", "delete"):
                continue  # the path's parameters
            if path == "/api/push/{token}":  # a heartbeat ping: the token in the path is the secret
                assert operation["security"] == []
            elif method in ("put", "patch", "post", "delete"):
                assert operation["security"] == [{"admin": []}]
