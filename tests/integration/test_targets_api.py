"""The targets API of `wac web` on the real Kafka and PostgreSQL, with `wac store`
mirroring the topic: create, replace, patch, delete; the admin token for writes, the read
token for reads; errors in JSON naming the field; secrets masked and kept; OpenAPI."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.browser import chromium, watched_page
from tests.support.processes import start, stop, wait_for
from tests.support.servers import free_port
from tests.support.store import own_schema
from wac.targets.definition import Definition
from wac.targets_topic import read_definitions, targets_topic_settings

TOKEN = "reader-token-for-tests"
ADMIN = "admin-token-for-tests"


@dataclass
class Api:
    base: str
    env: dict[str, str]

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = ADMIN
    ) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, _parsed(response.read(), response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, _parsed(exc.read(), exc.headers)


def _parsed(raw: bytes, headers: Any) -> Any:
    if "json" in headers.get("Content-Type", ""):
        return json.loads(raw)
    return raw.decode() or None


@pytest.fixture(scope="module")
def api(services_env: dict[str, str]) -> Iterator[Api]:
    import os
    import uuid

    suffix = uuid.uuid4().hex[:10]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    env.update(services_env)
    env["KAFKA_TOPIC"] = f"{services_env['KAFKA_TOPIC']}-{suffix}"
    env["KAFKA_GROUP_ID"] = f"{services_env['KAFKA_TOPIC']}-group-{suffix}"
    env["KAFKA_PARTITIONS"] = "1"
    env["WAC_TARGETS_PARTITIONS"] = "3"
    port = free_port()
    with own_schema(env) as schema_env:
        schema_env.update(
            {"WAC_WEB_PORT": str(port), "WAC_WEB_TOKEN": TOKEN, "WAC_WEB_ADMIN_TOKEN": ADMIN}
        )
        store = start(["wac", "store"], schema_env)
        web = start(["wac", "web", "--no-rollup"], schema_env)
        found = Api(f"http://127.0.0.1:{port}", schema_env)
        try:
            wait_for(lambda: _up(found), 30, "wac web to answer")
            yield found
        finally:
            for process in (web, store):
                stop(process)


def _up(api: Api) -> bool:
    try:
        return api.call("GET", "/healthz", token=None)[0] == 200
    except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
        return False
    except subprocess.SubprocessError:
        return False


def test_create_read_replace_patch_delete(api: Api) -> None:
    body = {
        "url": "https://user:pw@example.com/",
        "interval": "30s",
        "headers": {"Authorization": "Bearer s3cret", "Accept": "text/html"},
    }
    status, created = api.call("PUT", "/api/targets/shop", body)
    assert status == 201, created
    assert created["id"] == "shop" and created["name"] == "shop" and created["interval"] == 30
    assert created["url"] == "https://***@example.com/"
    assert created["headers"] == {"Authorization": "***", "Accept": "text/html"}
    status, listed = api.call("GET", "/api/targets", token=TOKEN)
    assert status == 200 and [t["id"] for t in listed["targets"]] == ["shop"]
    assert "s3cret" not in json.dumps(listed) and "pw@" not in json.dumps(listed)

    # The body a read gave, changed and written back: the secrets are kept.
    status, got = api.call("GET", "/api/targets/shop", token=TOKEN)
    got["interval"] = 60
    status, replaced = api.call("PUT", "/api/targets/shop", got)
    assert status == 200, replaced
    stored = read_definitions(targets_topic_settings(api.env))["shop"]
    assert stored.target.url == "https://user:pw@example.com/"
    assert dict(stored.target.headers)["Authorization"] == "Bearer s3cret"
    assert stored.target.interval == 60

    status, patched = api.call("PATCH", "/api/targets/shop", {"paused": True})
    assert status == 200 and patched["paused"] is True and patched["interval"] == 60
    assert read_definitions(targets_topic_settings(api.env))["shop"].paused is True
    assert api.call("GET", "/api/targets/shop", token=TOKEN)[1]["paused"] is True

    assert api.call("DELETE", "/api/targets/shop")[0] == 204
    status, missing = api.call("GET", "/api/targets/shop", token=TOKEN)
    assert status == 404 and "no managed target" in missing["error"]
    assert "shop" not in read_definitions(targets_topic_settings(api.env))


def test_writes_need_the_admin_token_reads_the_token(api: Api) -> None:
    body = {"url": "https://example.com/"}
    assert api.call("PUT", "/api/targets/x", body, token=None)[0] == 401
    assert api.call("PUT", "/api/targets/x", body, token=TOKEN)[0] == 401
    assert api.call("PATCH", "/api/targets/x", body, token=TOKEN)[0] == 401
    assert api.call("DELETE", "/api/targets/x", token=TOKEN)[0] == 401
    assert api.call("GET", "/api/targets", token=None)[0] == 401
    assert api.call("GET", "/api/targets", token=ADMIN)[0] == 401  # admin is not a reader
    assert "x" not in read_definitions(targets_topic_settings(api.env))


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "https://example.com/", "interval": "soon"}, "interval", "interval"),
        ({"url": "ftp://example.com/"}, "url", "http://, https://, tcp://"),
        ({}, "url", "`url` is required"),
        ({"url": "https://example.com/", "colour": "red"}, "colour", "unknown key"),
        ({"url": "https://example.com/", "name": "other"}, "name", "is not the id"),
        ({"url": "https://example.com/", "paused": "yes"}, "paused", "paused must be"),
        ({"url": "https://example.com/", "expect_status": [99]}, "expect_status", "HTTP status"),
        ({"url": "https://***@example.com/"}, "url", "no credentials are stored"),
    ],
)
def test_bad_fields_are_named(api: Api, body: dict[str, Any], field: str, words: str) -> None:
    status, error = api.call("PUT", "/api/targets/bad", body)
    assert status == 400, error
    assert error["field"] == field and words in error["error"]


def test_bodies_that_are_not_objects(api: Api) -> None:
    for raw in (b"{", b"[1]", b"\xff", b"[" * 100_000):
        status, error = api.call("PUT", "/api/targets/bad", raw)
        assert (status == 400 and "JSON object" in error["error"]) or "nested" in error["error"]
    status, error = api.call("PATCH", "/api/targets/none-such", {"paused": True})
    assert status == 404 and "PUT creates one" in error["error"]


def test_the_openapi_document_is_served(api: Api) -> None:
    status, document = api.call("GET", "/api/openapi.json", token=TOKEN)
    assert status == 200 and document["openapi"] == "3.1.0"
    assert set(document["paths"]["/api/targets/{id}"]) >= {"get", "put", "patch", "delete"}


def test_the_dashboard_adds_edits_pauses_resumes_and_deletes(api: Api) -> None:
    def topic() -> dict[str, Definition]:
        return read_definitions(targets_topic_settings(api.env))

    with chromium() as browser:
        watched = watched_page(browser, TOKEN)
        page = watched.page
        page.goto(api.base + "/targets")
        page.fill("#admin-token", ADMIN)
        page.dispatch_event("#admin-token", "change")

        # A bad interval: the error beside the interval field, nothing published.
        page.fill("#f-id", "web1")
        page.fill("#f-url", "https://user:pw@web1.example.com/")
        page.fill("#f-interval", "soon")
        page.click("#save")
        page.wait_for_selector('.field-error[data-for="interval"]:not(:empty)')
        assert "not a duration" in page.inner_text('.field-error[data-for="interval"]')
        assert "web1" not in topic()
        # The refused PUT is the one error the browser reports.
        assert [p for p in watched.problems if "400 (Bad Request)" not in p] == []
        watched.problems.clear()

        page.fill("#f-interval", "30s")
        page.click("#save")
        row = page.locator('tr[data-id="web1"]')
        row.wait_for()
        assert "30 s" in row.inner_text() and "https://***@web1.example.com/" in row.inner_text()
        assert page.inner_text('.field-error[data-for="interval"]') == ""
        assert topic()["web1"].target.interval == 30

        row.locator(".toggle").click()
        page.wait_for_selector('tr[data-id="web1"] td.state:text("paused")')
        assert topic()["web1"].paused is True
        page.locator('tr[data-id="web1"] .toggle').click()
        page.wait_for_selector('tr[data-id="web1"] td.state:text("active")')
        assert topic()["web1"].paused is False

        # Edit: the masked URL is written back as shown, the credentials are kept.
        page.locator('tr[data-id="web1"] .edit').click()
        assert page.input_value("#f-url") == "https://***@web1.example.com/"
        page.fill("#f-interval", "1m")
        page.click("#save")
        page.wait_for_selector('tr[data-id="web1"] td.num:text("60 s")')
        assert topic()["web1"].target.url == "https://user:pw@web1.example.com/"

        page.locator('tr[data-id="web1"] .delete').click()
        page.wait_for_selector('tr[data-id="web1"]', state="detached")
        assert "web1" not in topic()
    assert watched.problems == []
    assert watched.external == []
