"""Public status pages, their feed, badges and notices, from a real `wac web --config`
on a schema of its own (`own_schema`) with a known data set: three days of checks, the
rollups caught up (so the day tier answers), the alerts' incidents and notices.

Next to the listed targets the database holds targets built to leak: an unlisted target
whose id, URL (with a password), errors and incident cause are secret markers, and a
target of another page. Every public answer is searched for them.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.browser import SCREENSHOTS, chromium, watched_page
from tests.support.checks_data import Check, down, insert_checks, up
from tests.support.processes import wac, wait_for
from tests.support.store import own_schema
from tests.support.web_server import running_web
from wac.pages.badges import parse_badge_path
from wac.rollups import job as rollup

pytestmark = pytest.mark.integration
TOKEN = "status-read-token"
ADMIN = "status-admin-token"
STEP = timedelta(minutes=5)
# The newest check is 150 s old: the oldest check of a 24 h window is then 150 s inside
# it, so the windows hold the same checks for two minutes and more (minute buckets).
OFFSET = timedelta(seconds=150)
CHECKS = 864  # three days, one check every five minutes
SHOP_DOWN = range(576, 582)  # six failed checks two days ago: a 30-minute incident
API_DOWN = range(0, 4)  # the last four checks failed: down now, for 20 minutes
SECRET_ID = "secret-db-admin-7f3a"
SECRET_URL = "https://admin:hunter2-pw@secret-internal-9c1.example/"
OTHER_ID = "other-page-only-5e2"
SLASHY_URL = "http://slashy-marker.example/x.y"
SLASHY_ID = f"GET {SLASHY_URL}"  # a default id: method and URL
LISTED = {"shop", "api", "blog", OTHER_ID, SLASHY_ID}
# Nothing of these may be in any answer about the page `public`.
SECRETS = (
    SECRET_ID,
    "hunter2-pw",
    "secret-internal-9c1",
    "secret-error-zz9",
    "secret-cause-q42",
    OTHER_ID,
    "other-page-cause",
    "other-page-notice-marker",
    "slashy-marker",
    "shop-url-marker",  # the listed targets' URLs are not shown either
    "api-url-marker",
    "pw-in-cause",
    "Internal systems",
)
TARGETS_FILE = f"""
targets:
  - {{url: "http://shop-url-marker.example/", name: shop}}
  - {{url: "http://api-url-marker.example/", name: api}}
  - {{url: "http://blog.example/", name: blog}}
  - {{url: "{SECRET_URL}", name: {SECRET_ID}}}
  - {{url: "http://other.example/", name: {OTHER_ID}}}
  - {{url: "{SLASHY_URL}"}}
status_pages:
  - slug: public
    title: Acme status
    description: Our shop and its API.
    groups:
      - name: Website
        targets: [shop, blog]
      - name: API
        targets: [{{id: api, label: Public API}}]
  - slug: other
    title: Internal systems
    groups:
      - name: Internal
        targets: [{OTHER_ID}, "{SLASHY_ID}"]
"""


@dataclass
class Site:
    base: str
    port: int
    env: dict[str, str]
    process: subprocess.Popen[str]
    log: Path
    now: datetime
    config: Path

    def at(self, k: int) -> datetime:
        return self.now - OFFSET - STEP * k


def schedule(now: datetime) -> list[Check]:
    checks: list[Check] = []
    expires = now + timedelta(days=40, hours=2)
    for k in range(CHECKS):
        at = now - OFFSET - STEP * k
        if k in SHOP_DOWN:
            checks.append(down("shop", at, "connect", "Connection refused"))
        else:
            checks.append(up("shop", at, rt=120.0, tls_expires_at=expires))
        if k in API_DOWN:
            checks.append(down("api", at, "timeout", "timed out after 1000 ms"))
        else:
            checks.append(up("api", at, rt=80.0))
        if k % 8 == 0:
            checks.append(down(SECRET_ID, at, "connect", "secret-error-zz9 refused"))
            checks.append(up(OTHER_ID, at))
            checks.append(up(SLASHY_ID, at))
    for c in checks:
        c.url = {
            "shop": "http://shop-url-marker.example/",
            "api": "http://api-url-marker.example/",
            SECRET_ID: SECRET_URL,
            OTHER_ID: "http://other.example/",
            SLASHY_ID: SLASHY_URL,
        }[c.target]
    return checks


def request(
    site: Site,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def get_json(site: Site, path: str, headers: dict[str, str] | None = None) -> Any:
    status, _, body = request(site, path, headers)
    assert status == 200, (path, status, body[:300])
    return json.loads(body)


READ = {"Authorization": f"Bearer {TOKEN}"}
WRITE = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def site(services_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    folder = tmp_path_factory.mktemp("status")
    config = folder / "targets.yaml"
    config.write_text(TARGETS_FILE)
    with own_schema({**base_env, **services_env}) as env:
        now = datetime.now(UTC)
        with psycopg.connect(env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
            insert_checks(conn, schedule(now))
            result = rollup.catch_up(conn, wait=120)
            assert result.ran and rollup.read_state(conn)[0] is not None  # the tiers answer
            conn.commit()
            conn.autocommit = True

            def at(k: int) -> datetime:
                return now - OFFSET - STEP * k

            conn.execute(
                "INSERT INTO incidents (target, started, ended, cause, locations) VALUES "
                "('shop', %s, %s, 'connect: Connection refused', '{test}'),"
                "('api', %s, NULL, 'timeout: timed out after 1000 ms', '{test}'),"
                "(%s, %s, %s, %s, '{test}'),"
                "(%s, %s, NULL, 'other-page-cause', '{test}'),"
                # A row no alert service writes: it ends before it starts, its cause is
                # 100,000 characters with a right-to-left override and a password.
                "('blog', %s, %s, %s, '{test}')",
                (
                    at(max(SHOP_DOWN)),
                    at(min(SHOP_DOWN) - 1),
                    at(max(API_DOWN)),
                    SECRET_ID,
                    now - timedelta(days=1),
                    now - timedelta(hours=23),
                    f"secret-cause-q42 at {SECRET_URL}",
                    OTHER_ID,
                    now - timedelta(hours=5),
                    now - timedelta(days=1),
                    now - timedelta(days=1, hours=1),
                    "see https://u:pw-in-cause@host.example/ \u202e" + "y" * 100_000,
                ),
            )
        env = {
            **env,
            "WAC_WEB_TOKEN": TOKEN,
            "WAC_WEB_ADMIN_TOKEN": ADMIN,
            "WAC_LOG_LEVEL": "INFO",
        }
        for args in (
            ["--kind", "maintenance", "--title", "Database upgrade", "--body",
             "Writes may fail for a minute.", "--starts", (now - timedelta(hours=1)).isoformat(),
             "--ends", (now + timedelta(hours=1)).isoformat()],
            ["--title", "New API version", "--starts", (now + timedelta(days=2)).isoformat()],
            ["--title", "Shop migrated", "--starts", (now - timedelta(days=3)).isoformat(),
             "--ends", (now - timedelta(days=2)).isoformat(), "--config", str(config)],
        ):  # fmt: skip
            added = wac(["notice", "add", "--page", "public", *args], env)
            assert added.returncode == 0 and "added to page public" in added.stdout, added
        other = wac(
            ["notice", "add", "--page", "other", "--title", "other-page-notice-marker"], env
        )
        assert other.returncode == 0, other.stderr
        with psycopg.connect(env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
            conn.execute(  # by hand: what `wac notice add` refuses
                "INSERT INTO status_notices (page, kind, title, body, created_at, updated_at) "
                "VALUES ('public', 'info', %s, %s, %s, %s)",
                (
                    "evil\u202etxt.exe\x01",
                    "line\x0bwith controls\ufffe",
                    now - timedelta(days=4),
                    now - timedelta(days=4),
                ),
            )
        args = ["--no-rollup", "--config", str(config)]
        with running_web(args, env, folder / "web.log") as web:
            yield Site(web.base, web.port, web.env, web.process, web.log, now, config)
        text = web.output()
        assert "Traceback" not in text and TOKEN not in text and ADMIN not in text


def pct(up: int, total: int) -> float:
    return round(100 * up / total, 4)


def test_the_page_json_has_the_known_data(site: Site) -> None:
    data = get_json(site, "/status/public/api")  # no token
    assert data["page"] == {
        "slug": "public",
        "title": "Acme status",
        "description": "Our shop and its API.",
    }
    assert data["overall"] == {"state": "partial_outage", "up": 1, "down": 1, "unknown": 1}
    assert [g["name"] for g in data["groups"]] == ["Website", "API"]
    shop, blog = data["groups"][0]["targets"]
    (api,) = data["groups"][1]["targets"]
    assert (shop["id"], shop["label"], api["id"], api["label"]) == (
        "shop",
        "shop",
        "api",
        "Public API",
    )
    assert shop["status"] == "up" and api["status"] == "down" and blog["status"] is None
    assert api["since"] == site.at(max(API_DOWN)).isoformat().replace("+00:00", "Z")
    assert shop["uptime"] == {"24h": 100.0, "30d": pct(858, 864),
                              "90d": pct(858, 864)}  # fmt: skip
    assert api["uptime"]["24h"] == pct(284, 288) and api["uptime"]["90d"] == pct(860, 864)
    assert blog["uptime"] == {"24h": None, "30d": None, "90d": None}
    assert shop["avg_24h_ms"] == 120.0 and api["avg_24h_ms"] == 80.0
    assert shop["response_time_ms"] == 120.0 and api["response_time_ms"] is None
    # Day bars: 90 days ending today, the checks of each day of the schedule.
    assert len(shop["days"]) == 90 and shop["days"][-1]["day"] == site.now.date().isoformat()
    per_day: dict[str, list[int]] = {}
    for k in range(CHECKS):
        counts = per_day.setdefault(site.at(k).date().isoformat(), [0, 0])
        counts[0] += 1
        counts[1] += k in SHOP_DOWN
    shown = {d["day"]: d for d in shop["days"] if d["checks"]}
    assert {d: [v["checks"], v["failures"]] for d, v in shown.items()} == per_day
    for day, (checks, failures) in per_day.items():
        assert shown[day]["uptime_pct"] == pct(checks - failures, checks)
    assert all(d["uptime_pct"] is None for d in blog["days"])
    assert len(shop["hours"]) == 24 and {h["avg_ms"] for h in shop["hours"] if h["checks"]} == {
        120.0
    }
    # Incidents from the alerts' table, newest first, of the page's targets only.
    incidents = data["incidents"]
    assert [(i["target"], i["label"], i["ongoing"]) for i in incidents] == [
        ("api", "Public API", True),
        ("blog", "blog", False),
        ("shop", "shop", False),
    ]
    assert incidents[2]["duration_s"] == 1800.0
    assert incidents[2]["cause"] == "connect: Connection refused"
    assert incidents[2]["start"] == site.at(max(SHOP_DOWN)).isoformat().replace("+00:00", "Z")
    started_s = (OFFSET + 3 * STEP).total_seconds()  # began with the fourth-newest check
    assert incidents[0]["duration_s"] >= started_s - 10 and incidents[0]["end"] is None
    hostile = incidents[1]
    assert hostile["duration_s"] == 0.0 and len(hostile["cause"]) <= 300
    assert hostile["cause"].startswith("see https://***@host.example/ \u202eyyy")
    # Notices: the page's own, with their state now.
    notices = {n["title"]: n for n in data["notices"]}
    assert set(notices) == {
        "Database upgrade",
        "New API version",
        "Shop migrated",
        "evil\u202etxt.exe\x01",
    }
    assert notices["Database upgrade"]["state"] == "current"
    assert notices["Database upgrade"]["kind"] == "maintenance"
    assert notices["Database upgrade"]["body"] == "Writes may fail for a minute."
    assert notices["New API version"]["state"] == "upcoming"
    assert notices["Shop migrated"]["state"] == "past"
    assert all("id" not in n for n in data["notices"])  # no database counter in public


def public_answers(site: Site) -> dict[str, tuple[int, dict[str, str], bytes]]:
    """Everything anyone can fetch about the page `public` without a token, and what a
    stranger gets asking for the other targets."""
    paths = [
        "/status/public",
        "/status/public/api",
        "/status/public/feed.atom",
        "/public/status.js",
        "/public/dom.js",
        "/public/status.css",
        "/status/nope",
        "/status/public/nope",
        "/status/public/api?x=1",
    ]
    for target in ("shop", "api", "blog"):
        for kind in ("status", "uptime/24h", "uptime/90d", "response/7d", "certificate"):
            for fmt in ("svg", "json"):
                paths.append(f"/badge/{target}/{kind}.{fmt}")
    for target in (SECRET_ID, quote(SECRET_URL, safe=""), "no-such-target", "blog2"):
        for kind in ("status.svg", "uptime/30d.json", "uptime/99y.svg", "certificate.json"):
            paths.append(f"/badge/{target}/{kind}")
    return {path: request(site, path) for path in paths}


def test_public_answers_name_only_the_targets_of_their_page(site: Site) -> None:
    answers = public_answers(site)
    for path, (status, headers, body) in answers.items():
        text = body.decode("utf-8", "replace") + json.dumps(headers)
        for secret in SECRETS:
            if secret in path:
                continue  # asked for by name: its answer must still not repeat it
            assert secret not in text, (path, secret)
        if SECRET_ID in path or "no-such-target" in path:
            assert SECRET_ID not in text and "no-such-target" not in text, (path, text)
            assert status in (400, 401), (path, status)  # the same whether it exists or not
        assert status < 500, (path, status)
    assert answers[f"/badge/{SECRET_ID}/status.svg"][0] == 401
    assert answers["/badge/no-such-target/status.svg"] == answers[f"/badge/{SECRET_ID}/status.svg"]
    assert answers["/status/public"][0] == 200 and answers["/status/nope"][0] == 404
    # The page, its data and feed, and every badge of its targets: served without a token.
    for path, (status, _, _) in answers.items():
        if path.startswith(("/status/public", "/public/")) and "nope" not in path:
            assert status == 200, path
        if path.startswith(("/badge/shop/", "/badge/api/", "/badge/blog/")):
            assert status == 200, path
    # The other page is public too, and shows its own targets (a default id included).
    other = get_json(site, "/status/other/api")
    ids = [t["id"] for g in other["groups"] for t in g["targets"]]
    assert ids == [OTHER_ID, SLASHY_ID]
    assert "Acme" not in json.dumps(other) and "shop" not in json.dumps(other["incidents"])


def badge(site: Site, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    status, answer_headers, body = request(site, f"/badge/{path}.json", headers)
    assert status == 200, (path, status, body)
    data: dict[str, Any] = json.loads(body)
    data["cache"] = answer_headers["Cache-Control"]
    return data


def test_badges_say_the_known_values(site: Site) -> None:
    expected = {
        "shop/status": ("status", "up", "brightgreen"),
        "shop/uptime/24h": ("uptime 24h", "100%", "brightgreen"),
        "shop/uptime/90d": ("uptime 90d", "99.3%", "green"),  # 858 of 864
        "shop/response/24h": ("response 24h", "120 ms", "brightgreen"),
        "shop/certificate": ("certificate", "40 days", "brightgreen"),
        "api/status": ("status", "down", "red"),
        "api/uptime/24h": ("uptime 24h", "98.61%", "yellow"),  # 284 of 288
        "api/uptime/2w": ("uptime 2w", "99.53%", "green"),  # 860 of 864
        "api/certificate": ("certificate", "unknown", "lightgrey"),
        "blog/status": ("status", "unknown", "lightgrey"),
        "blog/uptime/30d": ("uptime 30d", "no data", "lightgrey"),
    }
    for path, (label, message, color) in expected.items():
        data = badge(site, path)
        assert (data["label"], data["message"], data["color"]) == (label, message, color), path
        assert data["schemaVersion"] == 1 and data["cacheSeconds"] == 300
        assert data["cache"] == "public, max-age=300"
    status, headers, body = request(site, "/badge/api/uptime/24h.svg")
    assert status == 200 and headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    svg = ET.fromstring(body)
    assert svg.findtext("{http://www.w3.org/2000/svg}title") == "uptime 24h: 98.61%"
    assert (
        svg.findall("{http://www.w3.org/2000/svg}g/{http://www.w3.org/2000/svg}rect")[1].get("fill")
        == "#dfb317"
    )
    again = request(site, "/badge/api/uptime/24h.svg", {"If-None-Match": headers["ETag"]})
    assert again[0] == 304 and again[1]["ETag"] == headers["ETag"] and again[2] == b""


def test_badges_of_other_targets_need_the_token(site: Site) -> None:
    assert request(site, f"/badge/{SECRET_ID}/status.svg")[0] == 401
    data = badge(site, f"{SECRET_ID}/status", READ)
    assert (data["message"], data["color"], data["cache"]) == ("down", "red", "private, max-age=60")
    basic = {"Authorization": "Basic " + base64.b64encode(f"x:{TOKEN}".encode()).decode()}
    assert badge(site, f"{SECRET_ID}/uptime/7d", basic)["message"] == "0%"
    assert request(site, "/badge/no-such-target/status.svg", READ)[0] == 404
    # A listed target whose id holds slashes and dots (a default id): percent-encoded.
    slashy = badge(site, f"{quote(SLASHY_ID, safe='')}/status")
    assert (slashy["message"], slashy["cache"]) == ("up", "public, max-age=300")


def test_the_feed_is_atom_with_the_incidents_and_notices(site: Site) -> None:
    status, headers, body = request(site, "/status/public/feed.atom")
    assert status == 200 and headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=60" and headers["ETag"]
    atom = "{http://www.w3.org/2005/Atom}"
    feed = ET.fromstring(body)
    titles = [e.findtext(f"{atom}title") for e in feed.findall(f"{atom}entry")]
    assert "Public API is down" in titles and "shop was down for 30 min" in titles
    assert "Maintenance: Database upgrade" in titles and "Shop migrated" in titles
    assert "evil\\u202etxt.exe\\u0001" in titles  # escaped, and the XML stays valid
    assert len(titles) == 3 + 4
    newest = max(
        datetime.fromisoformat(e.findtext(f"{atom}updated") or "")
        for e in feed.findall(f"{atom}entry")
    )
    assert datetime.fromisoformat(feed.findtext(f"{atom}updated") or "") == newest
    assert request(site, "/status/public/feed.atom", {"If-None-Match": headers["ETag"]})[0] == 304


def test_notices_through_the_cli_and_the_api(site: Site) -> None:
    listed = wac(["notice", "list", "--page", "public", "--json"], site.env)
    assert listed.returncode == 0, listed.stderr
    titles = {n["title"] for n in json.loads(listed.stdout)}
    assert {"Database upgrade", "New API version", "Shop migrated"} <= titles
    table = wac(["notice", "list"], site.env)
    assert "evil\\u202etxt.exe\\u0001" in table.stdout and "\u202e" not in table.stdout
    # Reads need the read token; writes the admin token, as a bearer token only.
    assert request(site, "/api/pages/public/notices")[0] == 401
    api_list = get_json(site, "/api/pages/public/notices", READ)["notices"]
    assert all(isinstance(n["id"], int) for n in api_list)
    assert get_json(site, "/api/pages", READ)["pages"][0]["slug"] == "public"
    body = json.dumps({"title": "Payment provider slow", "body": "Card payments lag."}).encode()
    for headers in ({}, READ, {"Authorization": f"Basic {ADMIN}"}, {"Authorization": "Bearer x"}):
        status, _, answer = request(site, "/api/pages/public/notices", headers, "POST", body)
        assert status == 401 and "admin token" in json.loads(answer)["error"], headers
    status, _, answer = request(site, "/api/pages/public/notices", WRITE, "POST", body)
    assert status == 201, answer
    created = json.loads(answer)
    assert created["title"] == "Payment provider slow" and created["state"] == "current"
    page = get_json(site, "/status/public/api")  # at once: the page's cache is dropped
    assert "Payment provider slow" in {n["title"] for n in page["notices"]}
    assert request(site, "/api/pages/nope/notices", WRITE, "POST", body)[0] == 404
    path = f"/api/pages/public/notices/{created['id']}"
    assert request(site, path, READ, "DELETE")[0] == 401
    assert request(site, f"/api/pages/other/notices/{created['id']}", WRITE, "DELETE")[0] == 404
    assert request(site, path, WRITE, "DELETE")[0] == 204
    assert request(site, path, WRITE, "DELETE")[0] == 404
    page = get_json(site, "/status/public/api")
    assert "Payment provider slow" not in {n["title"] for n in page["notices"]}
    gone = wac(["notice", "delete", "999999"], site.env)
    assert gone.returncode == 2 and "no notice has the id 999999" in gone.stderr


def test_a_page_made_through_the_api_is_public_at_once_and_the_files_pages_win(
    site: Site,
) -> None:
    slug = "zz-made-by-api"
    path = f"/api/pages/{slug}"
    page = {
        "title": "Made through the API",
        "description": "The shop alone.",
        "groups": [{"name": "Web", "targets": [{"id": "shop", "label": "Web shop"}]}],
    }
    raw = json.dumps(page).encode()
    assert request(site, f"/status/{slug}/api")[0] == 404
    for headers in ({}, READ, {"Authorization": f"Basic {ADMIN}"}):
        status, _, answer = request(site, path, headers, "PUT", raw)
        assert status == 401 and "admin token" in json.loads(answer)["error"], headers
    status, _, answer = request(site, path, WRITE, "PUT", raw)
    assert status == 201, answer
    assert json.loads(answer) == {**page, "slug": slug, "source": "api", "groups": [
        {"name": "Web", "targets": [{"id": "shop", "label": "Web shop"}]}]}  # fmt: skip
    try:
        # Public at once, without the token: the page, its JSON and its feed.
        data = get_json(site, f"/status/{slug}/api")
        assert data["page"] == {
            "slug": slug,
            "title": "Made through the API",
            "description": "The shop alone.",
        }
        ((shop,),) = [g["targets"] for g in data["groups"]]
        assert (shop["id"], shop["label"], shop["status"]) == ("shop", "Web shop", "up")
        assert shop["uptime"]["24h"] == 100.0
        status, _, html_page = request(site, f"/status/{slug}")
        assert status == 200 and b"Made through the API" in html_page
        assert request(site, f"/status/{slug}/feed.atom")[0] == 200
        for answer_body in (json.dumps(data).encode(), html_page):
            for secret in (*SECRETS, "api-url-marker"):
                assert secret.encode() not in answer_body, secret
        # Replaced: served at once too; read back with the read token, with its source.
        page["title"] = "Made through the API, renamed"
        status, _, answer = request(site, path, WRITE, "PUT", json.dumps(page).encode())
        assert status == 200, answer
        assert get_json(site, f"/status/{slug}/api")["page"]["title"].endswith("renamed")
        assert request(site, path)[0] == 401
        assert get_json(site, path, READ)["source"] == "api"
        sources = {p["slug"]: p["source"] for p in get_json(site, "/api/pages", READ)["pages"]}
        assert sources == {"public": "file", "other": "file", slug: "api"}
        # The targets file's pages win: the API cannot overwrite or delete them.
        for method in ("PUT", "DELETE"):
            status, _, answer = request(site, "/api/pages/public", WRITE, method, raw)
            assert status == 409 and "targets file" in json.loads(answer)["error"], answer
        assert get_json(site, "/status/public/api")["page"]["title"] == "Acme status"
        # Bad pages are a 400 saying why; nothing written.
        for bad, says in (
            (b"[1]", "the body must be a JSON object"),
            (b'{"title": "x"}', "groups must be a non-empty list"),
            (b'{"title": "x", "groups": [{"name": "g", "targets": ["typo-target"]}]}',
             "target 'typo-target' is not known"),
            (b'{"title": "x", "slug": "another", "groups": []}', "slug must be the slug"),
            (b'{"title": "x", "colour": 1, "groups": []}', "colour"),
        ):  # fmt: skip
            status, _, answer = request(site, "/api/pages/zz-bad", WRITE, "PUT", bad)
            assert status == 400 and says in json.loads(answer)["error"], (bad, answer)
        status, _, answer = request(site, "/api/pages/Not_A_Slug", WRITE, "PUT", raw)
        assert status == 400 and "slug" in json.loads(answer)["error"]
        assert request(site, "/status/zz-bad/api")[0] == 404
    finally:
        assert request(site, path, WRITE, "DELETE")[0] == 204
    assert request(site, f"/status/{slug}/api")[0] == 404
    assert request(site, path, WRITE, "DELETE")[0] == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "the body must be a JSON object"),
        (b"\xff\xfe", "the body must be a JSON object"),
        (b"[1, 2]", "the body must be a JSON object of notice fields"),
        (b'{"title": "x", "kind": "outage"}', "kind 'outage' must be one of info, maintenance"),
        (b'{"title": "x", "colour": 1}', "unknown field 'colour'"),
        (b'{"title": "x", "kind": "maintenance"}', "needs both starts and ends"),
        (b'{"title": "\\u202e"}', "printable"),
        (b'{"title": "x", "body": "' + b"y" * 70_000 + b'"}', "Maximum request body size"),
        (b'{"title": "x", "starts": "2026-13-45"}', "is not a time"),
    ],
)
def test_bad_notices_through_the_api_are_a_400_saying_why(
    site: Site, body: bytes, says: str
) -> None:
    status, headers, answer = request(site, "/api/pages/public/notices", WRITE, "POST", body)
    assert status in (400, 413), (status, answer)
    assert headers["Content-Type"].startswith("application/json")
    assert says in json.loads(answer)["error"]


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/status/Public", 404, "no such status page"),
        ("/status/..%2Fapi%2Foverview", 404, "no such status page"),
        ("/status/" + "a" * 3000, 404, "no such status page"),
        ("/status/%E2%80%AEpublic", 404, "no such status page"),
        ("/status/public/api?slug=%00", 400, "NUL"),
        ("/status/public%00", 400, "control character"),
        ("/badge/shop/uptime/30y.svg", 400, "whole number of hours, days or weeks"),
        ("/badge/shop/uptime/366d.json", 400, "at most 365 days"),
        ("/badge/shop/uptime/1.5d.svg", 400, "whole number"),
        ("/badge/shop/health.svg", 400, "no such badge"),
        ("/badge/shop/status.png", 400, "a badge path is"),
        ("/badge//status.svg", 400, "names no target"),
        ("/badge/shop%00/status.svg", 400, "control character"),
        ("/badge/%E2%80%AE/status.svg", 401, "needs the token"),
        ("/public/app.js", 404, "not found"),
        ("/public/..%2Fstatic%2Fapp.js", 404, "not found"),
        ("/api/pages/public/notices/abc", 401, "admin token"),
    ],
)
def test_odd_slugs_ids_and_windows_are_a_clear_4xx(
    site: Site, path: str, status: int, says: str
) -> None:
    method = "DELETE" if path.startswith("/api/pages") else "GET"
    answer_status, headers, body = request(site, path, method=method)
    assert answer_status == status, (path, answer_status, body)
    text = body.decode()
    message = (
        json.loads(text)["error"]
        if headers["Content-Type"].startswith("application/json")
        else text
    )
    assert says in message and "\n" not in message.strip(), (path, message)
    assert headers["Cache-Control"] == "no-store" and "Content-Security-Policy" in headers
    if path.endswith(".json"):
        assert headers["Content-Type"].startswith("application/json")


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    target=st.sampled_from(["shop", "api", SECRET_ID, ""]) | st.text(max_size=12),
    tail=st.sampled_from(
        ["status.svg", "status.json", "certificate.svg", "uptime/30d.svg", "uptime/0d.json",
         "response/9999999d.svg", "x.svg", "", "uptime/.svg"]
    )
    | st.text(max_size=12),
    page=st.sampled_from(["public", "other", "Public", ""]) | st.text(max_size=8),
)  # fmt: skip
def test_any_badge_or_page_path_is_never_a_500(
    site: Site, target: str, tail: str, page: str
) -> None:
    for path in (
        f"/badge/{quote(target, safe='')}/{quote(tail, safe='/')}",
        f"/status/{quote(page, safe='')}/api",
        f"/status/{quote(page, safe='')}/feed.atom",
    ):
        status, headers, body = request(site, path)
        assert status < 500, (path, status, body[:300])
        assert SECRET_ID not in body.decode("utf-8", "replace"), path  # never echoed
        if path.endswith((".json", "/api")) and status != 304:
            assert headers["Content-Type"].startswith("application/json"), path
        if status == 200 and path.startswith("/badge/"):  # without a token: listed only
            assert parse_badge_path(unquote(path[len("/badge/") :])).target in LISTED, path
    assert "Traceback" not in site.log.read_text()


def test_the_page_in_a_real_browser_at_desktop_and_phone_widths(site: Site) -> None:
    shots = []
    with chromium() as browser:
        for width, height, name in ((1400, 1000, "status-page-1400.png"),
                                    (390, 844, "status-page-390.png")):  # fmt: skip
            watched = watched_page(browser, None, width, height)  # no token: the page is public
            page = watched.page
            page.goto(site.base + "/status/public")
            page.wait_for_selector('.target[data-target="api"]')
            assert page.title() == "Acme status"
            overall = page.locator("#overall")
            assert overall.get_attribute("data-state") == "partial_outage"
            assert overall.inner_text().strip() == "Partial outage: 1 of 3 down"
            rows = {t: page.locator(f'.target[data-target="{t}"]') for t in ("shop", "api", "blog")}
            assert rows["shop"].locator(".state").inner_text() == "Operational"
            assert rows["api"].locator(".state").inner_text() == "Down"
            assert rows["blog"].locator(".state").inner_text() == "No data"
            assert rows["api"].locator(".target-name").inner_text() == "Public API"
            uptime = "90d" if width > 640 else "30d"
            shown_uptime = {
                t: rows[t].locator(f'[data-window="{uptime}"]').inner_text() for t in rows
            }
            assert shown_uptime == {
                "shop": "99.3% uptime",
                "api": "99.53% uptime",
                "blog": "No data yet",
            }
            assert rows["shop"].locator(".ms").inner_text() == "120 ms"
            groups = page.locator(".group-head .summary").all_inner_texts()
            assert groups == ["1 of 2 operational", "1 of 1 down"]
            bars = rows["shop"].locator(".bars span")
            assert bars.count() == 90
            visible_bars = bars.evaluate_all("s => s.filter(b => b.offsetWidth > 0).length")
            assert visible_bars == (90 if width > 640 else 30)
            outage_day = site.at(max(SHOP_DOWN)).date().isoformat()
            day = rows["shop"].locator(f'.bars span[data-day="{outage_day}"]')
            assert (day.get_attribute("class") or "") in ("warn", "orange", "down")
            history = page.locator("#history li.incident")
            assert history.count() == 3
            shop_incident = page.locator('#history li.incident[data-target="shop"]')
            assert "shop was down for 30 min" in shop_incident.inner_text()
            assert "Cause: connect: Connection refused" in shop_incident.inner_text()
            api_incident = page.locator('#history li.incident[data-target="api"]').inner_text()
            assert "ONGOING" in api_incident and "Public API is down" in api_incident
            hostile = page.locator('#history li.incident[data-target="blog"]').inner_text()
            assert "\\u202e" in hostile and "\u202e" not in hostile
            notices = page.locator("#notices .notice")
            # Current first (maintenance before announcements), then upcoming.
            assert notices.count() == 3
            assert "Database upgrade" in notices.nth(0).inner_text()
            assert "evil\\u202etxt.exe\\u0001" in notices.nth(1).inner_text()
            assert "New API version" in notices.nth(2).inner_text()
            assert "Shop migrated" in page.locator("#history").inner_text()
            body_text = page.locator("body").inner_text()
            for secret in SECRETS:
                assert secret not in body_text, secret
            geometry = page.evaluate(
                "() => [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert geometry[0] <= geometry[1], geometry  # nothing wider than the screen
            path = SCREENSHOTS / name
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)
            assert watched.problems == [], watched.problems
            assert watched.external == [], watched.external
        # The badges as a README shows them: loaded as images, drawn at their width.
        context = browser.new_context(viewport={"width": 700, "height": 300}, device_scale_factor=2)
        page = context.new_page()
        paths = ["shop/status", "api/status", "blog/status", "shop/uptime/90d", "api/uptime/24h",
                 "shop/response/24h", "shop/certificate", "api/certificate"]  # fmt: skip
        images = "".join(f'<p><img src="{site.base}/badge/{p}.svg" alt="{p}"></p>' for p in paths)
        page.set_content(f"<body style='font: 14px sans-serif'>{images}</body>")
        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        drawn = page.evaluate("() => [...document.images].map(i => [i.alt, i.naturalWidth])")
        for alt, width in drawn:
            svg = ET.fromstring(request(site, f"/badge/{alt}.svg")[2])
            assert width == int(svg.get("width", "0")) > 0, (alt, width)
        path = SCREENSHOTS / "status-badges.png"
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)
    for path in shots:
        print(f"screenshot: {path}")


@pytest.mark.parametrize(
    ("pages", "env", "says"),
    [
        (
            "status_pages: [{slug: s, title: T, groups: [{name: G, targets: [shopp]}]}]",
            {},
            "status page 's': group 'G': targets #1: no target has the id 'shopp'",
        ),
        (
            "status_pages: [{slug: S!, title: T, groups: [{name: G, targets: [shop]}]}]",
            {},
            "status page #1: slug 'S!' must be",
        ),
        ("status_pages: {a: 1}", {}, "status_pages: must be a list of pages"),
        ("", {"WAC_WEB_ADMIN_TOKEN": ""}, "WAC_WEB_ADMIN_TOKEN is set but empty"),
        ("", {"WAC_WEB_ADMIN_TOKEN": " x "}, "WAC_WEB_ADMIN_TOKEN has leading or trailing"),
        (
            "",
            {"WAC_WEB_ADMIN_TOKEN": "same", "WAC_WEB_TOKEN": "same"},
            "WAC_WEB_ADMIN_TOKEN is the same as WAC_WEB_TOKEN",
        ),
    ],
)
@pytest.mark.parametrize("command", ["web", "up"])
def test_bad_status_pages_or_admin_token_stop_wac_web_and_up_at_start(
    command: str,
    pages: str,
    env: dict[str, str],
    says: str,
    isolated_env: dict[str, str],
    tmp_path: Path,
) -> None:
    config = tmp_path / "targets.yaml"
    config.write_text('targets: [{url: "http://127.0.0.1:1/", name: shop}]\n' + pages)
    started = time.monotonic()
    result = wac([command, "--config", str(config)], {**isolated_env, **env}, timeout=60)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wac: error: ") and says in lines[0], lines
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["add", "--page", "Status", "--title", "x"], "slug 'Status' must be 1 to 64 lowercase"),
        (["add", "--page", "public", "--title", " "], "title must be a non-empty string"),
        (
            ["add", "--page", "public", "--title", "x", "--kind", "maintenance"],
            "a maintenance notice needs both starts and ends",
        ),
        (
            ["add", "--page", "public", "--title", "x", "--starts", "2026-06-02",
             "--ends", "2026-06-01"],
            "ends (2026-06-01T00:00:00Z) must be after starts",
        ),
        (["add", "--page", "public", "--title", "x", "--starts", "tomorrow"], "is not a time"),
        (["add", "--page", "public", "--title", "x\u202ey"], "one line of printable text"),
        (["add", "--page", "nope", "--title", "x", "--config", "CONFIG"],
         "has no status page 'nope'"),
        (["list", "--page", "../x"], "--page: slug '../x' must be"),
        (["delete", "0"], "0 is not in the range"),
    ],
)  # fmt: skip
def test_bad_notice_commands_are_one_line_and_exit_2(
    args: list[str], says: str, site: Site
) -> None:
    args = [str(site.config) if a == "CONFIG" else a for a in args]
    result = wac(["notice", *args], site.env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert says in result.stderr and "Traceback" not in result.stderr
    if args[0] != "delete":  # there click's own usage error: usage, hint, error line
        assert len(lines) == 1 and lines[0].startswith("wac: error: "), lines


def test_without_tokens_the_dashboard_is_open_and_notices_cannot_be_posted(
    site: Site, tmp_path: Path
) -> None:
    env = {k: v for k, v in site.env.items() if k not in ("WAC_WEB_TOKEN", "WAC_WEB_ADMIN_TOKEN")}
    args = ["--no-rollup", "--config", str(site.config)]
    with running_web(args, env, tmp_path / "web.log") as web:
        open_site = Site(web.base, web.port, web.env, web.process, web.log, site.now, site.config)
        body = json.dumps({"title": "x"}).encode()
        status, _, answer = request(open_site, "/api/pages/public/notices", WRITE, "POST", body)
        assert status == 403 and "set WAC_WEB_ADMIN_TOKEN" in json.loads(answer)["error"]
        # No read token: every badge is served, a target on no page's privately only.
        private = badge(open_site, f"{SECRET_ID}/status")
        assert (private["message"], private["cache"]) == ("down", "private, max-age=60")
        assert badge(open_site, "shop/status")["cache"] == "public, max-age=300"
    assert "Traceback" not in web.output(), web.output()


RELOADED_PAGE = """
  - slug: reloaded
    title: Added by a reload
    groups:
      - name: Shop
        targets: [shop]
"""


def test_sighup_reads_the_files_pages_again_and_a_broken_file_keeps_the_old_ones(
    site: Site, tmp_path: Path
) -> None:
    config = tmp_path / "targets.yaml"
    config.write_text(TARGETS_FILE)
    args = ["--no-rollup", "--config", str(config)]
    with running_web(args, site.env, tmp_path / "web.log") as web:
        on = Site(web.base, web.port, web.env, web.process, web.log, site.now, config)

        def title(slug: str) -> str | None:
            status, _, body = request(on, f"/status/{slug}/api")
            return str(json.loads(body)["page"]["title"]) if status == 200 else None

        assert (title("public"), title("reloaded")) == ("Acme status", None)
        config.write_text(
            TARGETS_FILE.replace("title: Acme status", "title: Acme status v2") + RELOADED_PAGE
        )
        web.process.send_signal(signal.SIGHUP)
        wait_for(lambda: title("reloaded") == "Added by a reload", 20, "the page added")
        assert title("public") == "Acme status v2"  # a changed page is not served stale
        assert "read again: 3 status page(s), 0 push target(s)" in web.output()

        # A page naming a target the file does not have: refused, the pages kept.
        config.write_text(TARGETS_FILE + RELOADED_PAGE.replace("[shop]", "[no-such-target]"))
        web.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "are kept" in web.output(), 20, "the refused reload logged")
        refused = [line for line in web.output().splitlines() if "are kept" in line]
        assert len(refused) == 1 and "no-such-target" in refused[0], refused
        assert (title("public"), title("reloaded")) == ("Acme status v2", "Added by a reload")

        config.unlink()  # the file gone: the same
        web.process.send_signal(signal.SIGHUP)
        wait_for(lambda: web.output().count("are kept") == 2, 20, "the second refusal")
        assert title("reloaded") == "Added by a reload"
    assert "Traceback" not in web.output(), web.output()


def test_sighup_without_a_targets_file_changes_nothing(site: Site, tmp_path: Path) -> None:
    with running_web(["--no-rollup"], site.env, tmp_path / "web.log") as web:
        web.process.send_signal(signal.SIGHUP)
        wait_for(lambda: "nothing to reload" in web.output(), 20, "the SIGHUP logged")
        assert web.process.poll() is None  # SIGHUP does not stop it


def test_rows_the_contract_refuses_cost_their_figure_not_the_page(
    services_env: dict[str, str],
) -> None:
    """Checks PostgreSQL holds but v1 refuses (non-finite or huge times, expiries past year
    9999 or `infinity`): the page's JSON stays strict JSON, the feed valid, each badge drawn."""
    from tests.support.checks_data import insert_raw
    from wac.db.connect import connect_reader
    from wac.pages.badges import badge_for, render_svg
    from wac.pages.config import PageGroup, PageTarget, StatusPage
    from wac.pages.feed import render_feed
    from wac.pages.read import badge_facts, page_view

    expiries = ["infinity", "-infinity", "294276-12-31 23:59:59+00", "10000-01-01 04:00:00+00",
                "9999-12-31 23:59:59.999999+00", "0001-01-01 00:00:00+00"]  # fmt: skip
    times = [float("nan"), float("inf"), -5.0, 1e308, 86_400_001.0, None]
    now = datetime.now(UTC)
    rows: list[dict[str, object]] = [
        {
            "target": f"odd-{i % 3}",
            "checked_at": now - timedelta(minutes=5 * i + 1),
            "ok": i % 4 != 0,
            "response_time_ms": times[i % len(times)],
            "tls_expires_at": expiries[i % len(expiries)],
            "error_kind": None if i % 4 else "other",
            "error_message": None if i % 4 else "odd\u202e\x00".replace("\x00", ""),
        }
        for i in range(600)
    ]
    page = StatusPage(
        "odd", "Odd", "", (PageGroup("All", tuple(PageTarget(f"odd-{i}") for i in range(3))),)
    )
    with own_schema(services_env) as env:
        with psycopg.connect(env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
            insert_raw(conn, rows)
            assert rollup.catch_up(conn, wait=120).ran
        with connect_reader(env["POSTGRES_ENDPOINT"], "test-reader", read_only=True) as reader:
            view = page_view(reader, page)
            json.dumps(view, allow_nan=False)  # what a browser's JSON.parse accepts
            ET.fromstring(render_feed(view))
            assert [t["status"] for t in view["groups"][0]["targets"]] == ["down", "up", "up"]
            day = timedelta(days=1)
            kinds = (("status", None), ("uptime", day), ("response", day), ("certificate", None))
            for kind, window in kinds:
                for target in ("odd-0", "odd-1", "odd-2"):
                    facts = badge_facts(reader, target, window, kind)
                    wanted = parse_badge_path(f"{target}/{kind}{'/1d' if window else ''}.svg")
                    ET.fromstring(render_svg(badge_for(wanted, facts)))
