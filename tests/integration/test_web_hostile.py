"""`wac web` under hostile input: every request gets a 4xx with a clear message, never a
500; every response carries the security headers; bad settings stop it at start; names
built to mislead (very long, bidirectional overrides) are shown harmless, in pages (a
real headless Chromium) and in `wac report`.

The dashboard runs on a schema of its own (`own_schema`) with a known data set.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_from_bytes

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.browser import SCREENSHOTS, chromium, watched_page
from tests.support.checks_data import down, insert_checks, up
from tests.support.processes import wac
from tests.support.store import own_schema
from tests.support.web_server import running_web

pytestmark = pytest.mark.integration
TOKEN = "hostile-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LONG_NAME = "long-" + "x" * 995  # 1,000 characters, no space to break at
BIDI_NAME = "bank\u202egpj.exe\u2066hidden\u2069\u200b-end"  # shows as "bankexe.jpg..." raw
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options")


@dataclass
class Web:
    base: str
    port: int
    env: dict[str, str]
    process: subprocess.Popen[str]
    log: Path


@pytest.fixture(scope="module")
def web(services_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    with own_schema({**base_env, **services_env}) as env:
        now = datetime.now(UTC)
        checks = []
        for i in range(30):
            at = now - timedelta(minutes=30 - i)
            checks.append(up(LONG_NAME, at, url="http://" + "y" * 900 + ".example/"))
            checks.append(
                down(BIDI_NAME, at, "connect", "refused \u202eevil\u202c by\u2028peer")
                if i >= 25
                else up(BIDI_NAME, at)
            )
            checks.append(up("plain", at))
        with psycopg.connect(env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
            insert_checks(conn, checks)
        env = {**env, "WAC_WEB_TOKEN": TOKEN, "WAC_LOG_LEVEL": "INFO"}
        log = tmp_path_factory.mktemp("web") / "web.log"
        with running_web(["--no-rollup"], env, log) as web:
            yield Web(web.base, web.port, web.env, web.process, web.log)


def request(
    site: Web, target: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=30)
    try:
        conn.request(method, target, headers=AUTH if headers is None else headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def raw_request(site: Web, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Bytes no well-behaved client library would send."""
    with socket.create_connection(("127.0.0.1", site.port), timeout=30) as sock:
        sock.sendall(head + b"Connection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_part, _, body = data.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


def assert_clear_4xx(status: int, headers: dict[str, str], body: bytes, path: str) -> str:
    assert 400 <= status < 500, (status, body)
    for name in SECURITY_HEADERS:
        assert name in headers, (name, headers)
    if path.startswith("/api/"):
        assert headers["Content-Type"].startswith("application/json"), headers
        assert headers.get("Cache-Control") == "no-store", headers
        message = json.loads(body)["error"]
    else:
        message = body.decode()
    assert message.strip() and "Traceback" not in message and "\n" not in message.strip()
    return str(message)


def server_tracebacks(site: Web) -> list[str]:
    return [line for line in site.log.read_text().splitlines() if "Traceback" in line]


@pytest.mark.parametrize(
    ("what", "head", "path", "says"),
    [
        ("bearer with bytes that are not ASCII", b"Bearer \xff\xfe", "/api/overview", "ASCII"),
        ("basic with bytes that are not ASCII", b"Basic \xff\xfe", "/api/overview", "ASCII"),
        ("basic that is not base64", b"Basic %%%%", "/api/overview", "authentication"),
        ("bearer with bytes, on a page", b"Bearer \xc3\x28", "/", "ASCII"),
    ],
)
def test_malformed_authorization_is_a_4xx(
    web: Web, what: str, head: bytes, path: str, says: str
) -> None:
    status, headers, body = raw_request(
        web, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: " + head + b"\r\n"
    )
    assert says in assert_clear_4xx(status, headers, body, path), what
    assert server_tracebacks(web) == []


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/api/target?name=a%00b", "NUL"),
        ("/api/report?since=24h&target=%00", "NUL"),
        ("/api/target?name%00=x&name=plain", "NUL"),
        ("/static/app%00.js", "control character"),
        ("/static/%00", "control character"),
        ("/target%00", "control character"),
        ("/api/report?since=3000000d", "since"),
        ("/api/report?since=" + "9" * 400 + "d", "since"),
        ("/api/report?since=-1h", "since"),
        ("/api/target?name=plain&range=3000000d", "range"),
        ("/api/nothing-here", "not found"),
    ],
)
def test_hostile_query_or_path_is_a_4xx(web: Web, path: str, says: str) -> None:
    status, headers, body = request(web, path)
    assert says in assert_clear_4xx(status, headers, body, path)
    assert server_tracebacks(web) == []


@pytest.mark.parametrize(
    "head",
    [
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n",
        b"GET /static/a\x00.js HTTP/1.1\r\nHost: x\r\n",
        b"GET /api/overview HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\x00b\r\n",
    ],
)
def test_bytes_that_are_not_http_are_a_400_and_one_log_line(web: Web, head: bytes) -> None:
    before = web.log.read_text().count("\n")
    status, _, _ = raw_request(web, head)
    assert status == 400
    time.sleep(0.2)
    new_lines = web.log.read_text().splitlines()[before:]
    assert server_tracebacks(web) == []
    assert len([line for line in new_lines if "Error handling request" in line]) == 1, new_lines
    assert all(len(line) < 300 for line in new_lines), new_lines


def test_every_response_has_the_security_headers_and_api_json_is_no_store(web: Web) -> None:
    answers = {
        "page": request(web, "/"),
        "static": request(web, "/static/app.js"),
        "api": request(web, "/api/overview"),
        "unauthorized": request(web, "/api/overview", headers={}),
        "not found": request(web, "/nowhere"),
        "not found static": request(web, "/static/nothing.js"),
        "method not allowed": request(web, "/api/overview", method="POST"),
        "bad request": request(web, "/api/report?since=soon"),
        "healthz": request(web, "/healthz", headers={}),
        "metrics": request(web, "/metrics"),
    }
    expected = {"page": 200, "static": 200, "api": 200, "unauthorized": 401, "not found": 404}
    expected |= {"not found static": 404, "method not allowed": 405, "bad request": 400}
    for name, (status, headers, _) in answers.items():
        assert status == expected.get(name, 200), (name, status)
        for header in SECURITY_HEADERS:
            assert header in headers, (name, header, headers)
    for name in ("api", "unauthorized", "method not allowed", "bad request"):
        headers = answers[name][1]
        assert headers["Cache-Control"] == "no-store", (name, headers)
        assert headers["Content-Type"].startswith("application/json"), (name, headers)
    assert server_tracebacks(web) == []


def test_an_unexpected_failure_is_a_logged_line_and_a_500_without_internals(web: Web) -> None:
    url = web.env["POSTGRES_ENDPOINT"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE checks RENAME TO checks_elsewhere")
        try:
            status, headers, body = request(web, "/api/overview")
        finally:
            conn.execute("ALTER TABLE checks_elsewhere RENAME TO checks")
    assert status == 500
    assert headers["Content-Type"].startswith("application/json")
    for header in SECURITY_HEADERS:
        assert header in headers
    assert json.loads(body) == {"error": "internal error: see the server's log"}
    log = web.log.read_text()
    assert server_tracebacks(web) == []
    failure = [line for line in log.splitlines() if "/api/overview failed" in line]
    assert len(failure) == 1 and "checks" in failure[0], log[-2000:]
    assert request(web, "/api/overview")[0] == 200  # and it goes on


# Query strings as an attacker writes them: any bytes, percent-encoded, under the names the
# API reads and others; or raw printable text with its own separators.
names = st.sampled_from(["name", "range", "since", "target", "x", ""]) | st.text(max_size=8)
values = (
    st.binary(max_size=60).map(lambda b: quote_from_bytes(b, safe=""))
    | st.sampled_from(["24h", "1h", "7d", "30d", "plain", LONG_NAME, BIDI_NAME]).map(quote)
    | st.from_regex(r"-?[0-9]{1,30}(\.[0-9]{0,20})?[smhdwy]?", fullmatch=True)
)
pairs = st.lists(st.tuples(names.map(lambda n: quote(n, safe="")), values), max_size=6)
query_strings = pairs.map(lambda ps: "&".join(f"{k}={v}" for k, v in ps)) | st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80
)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    endpoint=st.sampled_from(["/api/overview", "/api/target", "/api/report"]),
    query=query_strings,
)
def test_any_query_string_to_the_api_is_never_a_500(web: Web, endpoint: str, query: str) -> None:
    status, headers, body = request(web, f"{endpoint}?{query}")
    assert status < 500, (endpoint, query, status, body[:300])
    assert headers["Content-Type"].startswith("application/json"), headers
    assert headers.get("Cache-Control") == "no-store"
    if status >= 400:
        assert json.loads(body)["error"]


def test_bidi_and_control_characters_are_shown_escaped_in_wac_report(web: Web) -> None:
    result = wac(["report", "--since", "1h"], web.env)
    assert result.returncode == 0, result.stderr
    for hidden in ("\u202e", "\u2066", "\u2069", "\u200b"):
        assert hidden not in result.stdout
    assert "bank\\u202egpj.exe\\u2066hidden\\u2069\\u200b-end" in result.stdout
    as_json = wac(["report", "--since", "1h", "--json"], web.env)
    names = {t["target"] for t in json.loads(as_json.stdout)["targets"]}
    assert BIDI_NAME in names  # JSON keeps the name exact (and escapes it)


def test_long_and_bidi_names_in_a_real_browser(web: Web) -> None:
    with chromium() as browser:
        watched = watched_page(browser, TOKEN)
        page = watched.page
        page.goto(web.base + "/")
        page.wait_for_selector('tr[data-target="plain"]')
        geometry: dict[str, Any] = page.evaluate(
            """() => {
              const card = document.querySelector('#targets').closest('.card');
              const last = document.querySelector('#targets thead th:last-child');
              return {doc: document.documentElement.scrollWidth, view: window.innerWidth,
                      card: card.getBoundingClientRect().right,
                      lastColumn: last.getBoundingClientRect().right,
                      tableWidth: document.querySelector('#targets').scrollWidth,
                      cardInner: card.clientWidth};
            }"""
        )
        page.screenshot(path=str(SCREENSHOTS / "overview-hostile-names.png"), full_page=True)
        assert geometry["doc"] <= geometry["view"], geometry
        assert geometry["lastColumn"] <= geometry["card"], geometry
        assert geometry["tableWidth"] <= geometry["cardInner"], geometry
        long_row = page.locator(f'tr[data-target="{LONG_NAME}"]')
        assert long_row.locator("a.target-name").get_attribute("title") == LONG_NAME
        bidi_row = page.locator("#targets tbody tr").filter(has_text="bank")
        shown = bidi_row.locator("a.target-name").inner_text()
        assert shown == "bank\\u202egpj.exe\\u2066hidden\\u2069\\u200b-end", shown
        assert "\\u202eevil\\u202c by\\u2028peer" in bidi_row.locator(".err").inner_text()
        body_text = page.locator("body").inner_text()
        assert not any(c in body_text for c in "\u202e\u2066\u2069\u200b\u2028")

        page.goto(f"{web.base}/target?name={quote(BIDI_NAME)}")
        page.wait_for_selector("#errors tbody tr")
        assert page.locator("#name").inner_text() == shown
        assert "\u202e" not in page.title() and "\u202e" not in page.locator("body").inner_text()
        page.goto(f"{web.base}/target?name={quote(LONG_NAME)}")
        page.wait_for_selector("#chart svg")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        page.screenshot(path=str(SCREENSHOTS / "target-long-name.png"), full_page=True)
        assert width <= 1360, width
    assert watched.problems == []
    assert watched.external == []


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["web", "--port", "0"], {}, "--port"),
        (["web", "--port", "70000"], {}, "--port"),
        (["web", "--port", "http"], {}, "--port"),
        (["web"], {"WAC_WEB_PORT": "0"}, "WAC_WEB_PORT"),
        (["web"], {"WAC_WEB_PORT": "70000"}, "WAC_WEB_PORT"),
        (["web"], {"WAC_WEB_TOKEN": ""}, "WAC_WEB_TOKEN"),
        (["web"], {"WAC_WEB_TOKEN": "   "}, "WAC_WEB_TOKEN"),
        (["web"], {"WAC_WEB_TOKEN": " padded "}, "WAC_WEB_TOKEN"),
        (["up", "http://127.0.0.1:1/"], {"WAC_WEB_PORT": "70000"}, "WAC_WEB_PORT"),
        (["up", "http://127.0.0.1:1/"], {"WAC_WEB_TOKEN": " "}, "WAC_WEB_TOKEN"),
    ],
)
def test_bad_port_or_token_stops_wac_web_at_start(
    args: list[str], env: dict[str, str], says: str, isolated_env: dict[str, str]
) -> None:
    started = time.monotonic()
    result = wac(args, {**isolated_env, **env}, timeout=60)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wac: error: ") and says in lines[0], lines
    assert time.monotonic() - started < 30
