"""`GET /api/targets` a page at a time, with 100,000 rows in `managed_targets` (the
store's mirror, filled here with COPY): the first page's time, a deep page's, every
page walked once (each target once, in id order), and the parameters refused by name."""

from __future__ import annotations

import json
import statistics
import time
import urllib.error
import urllib.request
from typing import Any

import psycopg
import pytest

from tests.support.processes import start, stop, wait_for
from tests.support.servers import free_port
from tests.support.store import own_schema
from wac.targets.definition import Definition, definition_to_json
from wac.targets.entry import target_from_json

pytestmark = pytest.mark.integration

ROWS = 100_000
TOKEN = "reader-token-for-paging"


def get(port: int, query: str) -> tuple[int, Any, float]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/targets{query}")
    request.add_header("Authorization", f"Bearer {TOKEN}")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
            return response.status, body, time.perf_counter() - started
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), time.perf_counter() - started


def fill(url: str) -> None:
    template = definition_to_json(
        Definition(target_from_json({"url": "https://site.example.com/", "name": "site"}))
    )
    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cur,
        cur.copy(
            "COPY managed_targets (target, definition, url, interval_s, paused,"
            " topic_partition, topic_offset) FROM STDIN"
        ) as copy,
    ):
        for i in range(ROWS):
            name = f"site-{i:06d}"
            site = f"https://{name}.example.com/"
            value = json.dumps({**template, "name": name, "url": site})
            copy.write_row((name, value, site, 10.0, False, i % 12, i // 12))


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
            return True
    except OSError:
        return False


def test_pages_of_100000_managed_targets(isolated_env: dict[str, str]) -> None:
    with own_schema(isolated_env) as env:
        fill(env["POSTGRES_ENDPOINT"])
        port = free_port()
        web = start(
            ["wac", "web", "--no-rollup", "--port", str(port)], {**env, "WAC_WEB_TOKEN": TOKEN}
        )
        try:
            wait_for(lambda: answers(port), 30, "wac web")
            status, first, first_s = get(port, "")
            assert status == 200
            assert [t["id"] for t in first["targets"]] == [f"site-{i:06d}" for i in range(100)]
            assert first["targets"][0]["url"] == "https://site-000000.example.com/"
            firsts = [get(port, "")[2] for _ in range(10)]
            # A deep page costs what the first does (a keyset query on the primary key).
            _, page, _ = get(port, "?limit=1000")
            deep_s = []
            for _ in range(10):
                status, deep, took = get(port, "?limit=1000&cursor=" + page["next_cursor"])
                deep_s.append(took)
            seen: list[str] = []
            cursor: str | None = None
            walked = time.perf_counter()
            pages = 0
            while True:
                query = "?limit=1000" + (f"&cursor={cursor}" if cursor else "")
                status, page, _ = get(port, query)
                assert status == 200, page
                pages += 1
                seen += [t["id"] for t in page["targets"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            walked = time.perf_counter() - walked
            refused = {
                query: get(port, query)[:2]
                for query in (
                    "?limit=0",
                    "?limit=1001",
                    "?limit=ten",
                    "?limit=-5",
                    "?cursor=%%%",
                    "?cursor=bm90LWEtY3Vyc29y=",
                )
            }
        finally:
            code, _, err = stop(web)
    print(
        f"\nGET /api/targets with {ROWS:,} rows in managed_targets: first page (100) "
        f"{first_s * 1000:.1f} ms cold, median {statistics.median(firsts) * 1000:.1f} ms warm; "
        f"a page of {len(deep['targets'])} after the first 1000: median "
        f"{statistics.median(deep_s) * 1000:.1f} ms; all {pages} pages of 1000 walked in "
        f"{walked:.2f} s"
    )
    assert seen == [f"site-{i:06d}" for i in range(ROWS)]
    assert pages == ROWS // 1000
    assert statistics.median(firsts) < 0.5
    for query, (status, body) in refused.items():
        assert status == 400, (query, body)
        assert body["field"] == ("limit" if "limit" in query else "cursor"), body
        assert "\n" not in body["error"]
    assert code == 0, err
