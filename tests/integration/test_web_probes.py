"""The target page of each probe: `/api/target` names the probe, the phases it fills and
its latest check's details; stored details the contract refuses (rows written by other
means) are dropped field by field, never a 500; the pages in a real headless Chromium
show each probe's phases and details, escaped.

The dashboard runs on a schema of its own (`own_schema`) with a known data set.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from tests.support.browser import SCREENSHOTS, chromium, watched_page
from tests.support.checks_data import Check, insert_checks, insert_raw
from tests.support.store import own_schema
from tests.support.web_server import running_web

pytestmark = pytest.mark.integration
TOKEN = "probe-pages-token"
CHECKS = 30  # one a minute, the newest a minute ago
NOW = datetime.now(UTC).replace(microsecond=0)
EXPIRES = NOW + timedelta(days=20, hours=2)

DNS_DETAILS: dict[str, object] = {
    "address": "127.0.0.1",
    "dns_rcode": "NOERROR",
    "dns_answers": ["10 mail.example.test.", "20 backup.example.test."],
}
TLS_DETAILS: dict[str, object] = {
    "address": "127.0.0.1",
    "tls_version": "TLSv1.3",
    "tls_cipher": "TLS_AES_256_GCM_SHA384",
    "tls_verified": False,
    "tls_verify_error": "self-signed certificate",
    "tls_host_matched": True,
}
ICMP_DETAILS: dict[str, object] = {
    "address": "127.0.0.1",
    "icmp_socket": "raw",
    "icmp_sent": 3,
    "icmp_received": 2,
    "icmp_loss_pct": 33.3,
    "icmp_rtt_min_ms": 0.041,
    "icmp_rtt_avg_ms": 0.06,
    "icmp_rtt_max_ms": 0.082,
}
TCP_DETAILS = {
    "address": "127.0.0.1",
    "tcp_reply": "SSH-2.0-OpenSSH_9.2\\r\\n",
    "tcp_reply_bytes": 21,
}
BIDI = "evil\u202etxt.exe\u2066x\u2069\u200b"


@dataclass(frozen=True)
class Kind:
    """One target of the data set: its probe, URL, phases, details and latest outcome."""

    name: str
    probe: str | None
    url: str
    phases: dict[str, float]
    details: dict[str, object] | None = None
    error: tuple[str, str] | None = None  # of the newest check
    expires: datetime | None = None


KINDS = {
    k.name: k
    for k in [
        Kind(
            "dns", "dns", "dns://127.0.0.1:5353/example.test?type=MX", {"resolve": 3.0}, DNS_DETAILS
        ),
        Kind(
            "tls",
            "tls",
            "tls://127.0.0.1:8443",
            {"resolve": 0.5, "connect": 1.5, "tls": 9.0},
            TLS_DETAILS,
            ("tls", "certificate verify failed: self-signed certificate"),
            EXPIRES,
        ),
        Kind("icmp", "icmp", "icmp://127.0.0.1", {"resolve": 0.02}, ICMP_DETAILS),
        Kind(
            "tcp",
            "tcp",
            "tcp://127.0.0.1:22",
            {"resolve": 0.1, "connect": 0.4, "processing": 5.0, "transfer": 0.5},
            TCP_DETAILS,
        ),
        Kind("tcp-connect", "tcp", "tcp://127.0.0.1:5432", {"resolve": 0.1, "connect": 0.4}),
        Kind(
            "https",
            None,
            "https://127.0.0.1:8443/",
            {"resolve": 1.0, "connect": 2.0, "tls": 8.0, "processing": 20.0, "transfer": 1.0},
            {"http_version": "2"},
            expires=EXPIRES,
        ),
        Kind(
            "http",
            None,
            "http://127.0.0.1:8080/",
            {"resolve": 1.0, "connect": 2.0, "processing": 20.0, "transfer": 1.0},
        ),
        Kind("push", "push", "push://nightly-backup", {}),
        # A probe of a later version (the field takes any short name): nothing hidden.
        Kind(
            "later",
            "grpc",
            "grpc://127.0.0.1:50051",
            {"resolve": 0.1, "connect": 0.4},
            {"address": "127.0.0.1"},
        ),
    ]
}
PHASES_SHOWN = {
    "dns": ["resolve"],
    "tls": ["resolve", "connect", "tls"],
    "icmp": ["resolve"],
    "tcp": ["resolve", "connect", "processing", "transfer"],
    "tcp-connect": ["resolve", "connect"],
    "https": ["resolve", "connect", "tls", "processing", "transfer"],
    "http": ["resolve", "connect", "processing", "transfer"],
    "push": [],
    "later": ["resolve", "connect", "tls", "processing", "transfer"],
}


def nested(levels: int) -> object:
    value: object = "x"
    for _ in range(levels):
        value = [value]
    return value


# Stored details the contract refuses, as a row written by other means may hold them:
# name → (details, what the API keeps of them).
HOSTILE: dict[str, tuple[object, dict[str, object] | None]] = {
    "array": ([1, 2, 3], None),
    "string": ("NOERROR", None),
    # Nested deeper than any result (msgspec would recurse once per level): not read.
    "deep": ({"dns_rcode": "NOERROR", "later": nested(40)}, None),
    "wrong-types": (
        {
            "dns_rcode": 3,
            "dns_answers": [1, {"a": 1}],
            "icmp_sent": -1,
            "icmp_loss_pct": "33",
            "tls_verified": "yes",
            "address": "127.0.0.1",
        },
        {"address": "127.0.0.1"},
    ),
    "huge-numbers": (
        {"icmp_rtt_avg_ms": 1e300, "icmp_sent": 10**30, "icmp_received": 2},
        {"icmp_received": 2},
    ),
    "too-long": (
        {"dns_answers": ["a" * 2000], "dns_rcode": "x" * 100, "address": "8.8.8.8"},
        {"address": "8.8.8.8"},
    ),
    "too-many": ({"dns_answers": [f"10.0.0.{i % 250}" for i in range(65)]}, None),
    "unknown-keys": (
        {"future_field": {"a": [1]}, "dns_rcode": "NXDOMAIN"},
        {"dns_rcode": "NXDOMAIN"},
    ),
    "bidi": (
        {"dns_rcode": BIDI, "dns_answers": [BIDI, "<img src=x onerror=alert(1)>"]},
        {"dns_rcode": BIDI, "dns_answers": [BIDI, "<img src=x onerror=alert(1)>"]},
    ),
}


@dataclass
class Web:
    base: str
    prefix: str
    process: subprocess.Popen[str]


def name_of(web: Web, kind: str) -> str:
    return web.prefix + kind


def checks_of(prefix: str, kind: Kind) -> list[Check]:
    rows = []
    for i in range(CHECKS):
        at = NOW - timedelta(minutes=CHECKS - i)
        newest = i == CHECKS - 1
        failed = newest and kind.error is not None
        rt = None if kind.probe == "push" else sum(kind.phases.values())
        if kind.probe == "icmp":
            rt = 0.06  # the average round trip
        rows.append(
            Check(
                prefix + kind.name,
                at,
                ok=not failed,
                response_time_ms=rt,
                error_kind=kind.error[0] if failed and kind.error else None,
                error_message=kind.error[1] if failed and kind.error else None,
                status_code=200 if kind.url.startswith("http") else None,
                tls_expires_at=kind.expires,
                url=kind.url,
                phases=dict(kind.phases),
                probe=kind.probe,
                details=kind.details,
            )
        )
    return rows


@pytest.fixture(scope="module")
def web(services_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    prefix = "p-"
    with own_schema({**base_env, **services_env}) as env:
        with psycopg.connect(env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
            insert_checks(conn, [c for k in KINDS.values() for c in checks_of(prefix, k)])
            insert_raw(
                conn,
                [
                    {
                        "target": prefix + "hostile-" + name,
                        "url": "dns://127.0.0.1/x.test?type=A",
                        "checked_at": NOW - timedelta(minutes=1),
                        "probe": "dns",
                        "resolve_ms": 2.0,
                        "response_time_ms": 2.0,
                        "details": details,
                    }
                    for name, (details, _) in HOSTILE.items()
                ],
            )
        env = {**env, "WAC_WEB_TOKEN": TOKEN, "WAC_LOG_LEVEL": "INFO"}
        log = tmp_path_factory.mktemp("web") / "web.log"
        with running_web(["--no-rollup"], env, log) as web:
            yield Web(web.base, prefix, web.process)
        assert "Traceback" not in web.output(), web.output()[-3000:]


def _refuse_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


def get(web: Web, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(web.base + path)
    request.add_header("Authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            body = response.read()
            if "json" not in response.headers.get("Content-Type", ""):
                return response.status, body.decode()
            # Strict JSON, as a browser parses it: NaN or Infinity would fail the page.
            return response.status, json.loads(body, parse_constant=_refuse_constant)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def target(web: Web, kind: str) -> dict[str, Any]:
    status, data = get(web, f"/api/target?name={quote(name_of(web, kind))}&range=1h")
    assert status == 200, (kind, status, data)
    return data


@pytest.mark.parametrize("kind", list(KINDS))
def test_target_api_names_the_probe_its_phases_and_the_latest_details(web: Web, kind: str) -> None:
    expected = KINDS[kind]
    data = target(web, kind)
    assert data["probe"] == (expected.probe or "http")
    assert data["phases_shown"] == PHASES_SHOWN[kind]
    latest = data["latest_check"]
    assert latest["checked_at"] == (NOW - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    assert latest["probe"] == data["probe"]
    assert latest["details"] == expected.details
    assert {p: v for p, v in latest["phases"].items() if v is not None} == expected.phases
    assert latest["ok"] is (expected.error is None)
    if expected.error:
        assert latest["error"] == {"kind": expected.error[0], "message": expected.error[1]}
        assert data["errors"][0]["kind"] == expected.error[0]  # the latest errors, as before
    # The chart's bins: the phases the probe filled, and 0 for those it did not.
    points = [p for p in data["series"] if p["checks"]]
    assert sum(p["checks"] for p in points) == CHECKS
    if expected.phases:
        for phase in PHASES_SHOWN[kind]:
            want = expected.phases.get(phase, 0.0)
            assert all(p["phases"][phase] == want for p in points), phase


def test_overview_names_each_targets_probe(web: Web) -> None:
    status, data = get(web, "/api/overview")
    assert status == 200
    probes = {t["target"]: t["probe"] for t in data["targets"]}
    for kind, expected in KINDS.items():
        assert probes[name_of(web, kind)] == (expected.probe or "http")


@pytest.mark.parametrize("case", list(HOSTILE))
def test_stored_details_the_contract_refuses_are_dropped_field_by_field(
    web: Web, case: str
) -> None:
    data = target(web, f"hostile-{case}")
    assert data["probe"] == "dns" and data["phases_shown"] == ["resolve"]
    assert data["latest_check"]["details"] == HOSTILE[case][1]


def _open_target(page: Any, web: Web, kind: str) -> dict[str, str]:
    page.goto(f"{web.base}/target?name={quote(name_of(web, kind))}&range=1h")
    page.wait_for_selector("#latest-details .detail")
    page.wait_for_selector("#chart svg")
    shown: dict[str, str] = page.locator("#latest-details .detail").evaluate_all(
        "ds => Object.fromEntries(ds.map(d => [d.dataset.detail, d.querySelector('dd').innerText]))"
    )
    return shown


def _phases_on_page(page: Any) -> dict[str, list[str]]:
    return {
        "card": page.locator("#latest-phases .phase").evaluate_all(
            "ps => ps.map(p => p.dataset.phase)"
        ),
        "chart": page.locator("#chart path[data-phase]").evaluate_all(
            "ps => ps.map(p => p.dataset.phase)"
        ),
        "legend": page.locator("#legend > span").evaluate_all(
            "ls => ls.map(l => l.innerText.trim())"
        ),
    }


def test_each_probes_target_page_in_a_real_browser(web: Web) -> None:
    with chromium() as browser:
        watched = watched_page(browser, TOKEN)
        page = watched.page

        # Overview: a probe label on each target's row.
        page.goto(web.base + "/")
        page.wait_for_selector(f'tr[data-target="{name_of(web, "dns")}"]')
        for kind, expected in KINDS.items():
            row = page.locator(f'tr[data-target="{name_of(web, kind)}"]')
            assert row.locator(".probe").inner_text().lower() == (expected.probe or "http")
        page.screenshot(path=str(SCREENSHOTS / "overview-probes.png"), full_page=True)

        # DNS: one phase (resolve) everywhere, rcode and answers.
        shown = _open_target(page, web, "dns")
        assert page.locator("#probe").inner_text().lower() == "dns"
        phases = _phases_on_page(page)
        assert phases == {"card": ["resolve"], "chart": ["resolve"], "legend": ["resolve"]}
        assert "3.0 ms" in page.locator("#latest-phases").inner_text()
        assert shown["dns_rcode"] == "NOERROR"
        assert shown["dns_answers"].splitlines() == DNS_DETAILS["dns_answers"]
        assert shown["address"] == "127.0.0.1" and shown["dns_tcp"] == "UDP"
        tiles = page.locator(".tile .label").all_inner_texts()
        assert "CERTIFICATE" not in [t.upper() for t in tiles]
        page.screenshot(path=str(SCREENSHOTS / "target-dns.png"), full_page=True)

        # TLS: resolve, connect and tls; version, cipher, the failed verification, days left.
        shown = _open_target(page, web, "tls")
        assert page.locator("#probe").inner_text().lower() == "tls"
        phases = _phases_on_page(page)
        assert phases["card"] == phases["chart"] == ["resolve", "connect", "tls"]
        assert shown["tls_version"] == "TLSv1.3"
        assert shown["tls_cipher"] == "TLS_AES_256_GCM_SHA384"
        assert shown["tls_verified"] == "no: self-signed certificate"
        assert shown["tls_host_matched"] == "yes"
        assert shown["cert_days_left"].startswith("20 days left")
        when = page.locator("#latest-when").inner_text()
        assert "tls: certificate verify failed: self-signed certificate" in when
        assert page.locator("#errors tbody tr").count() == 1
        page.screenshot(path=str(SCREENSHOTS / "target-tls.png"), full_page=True)

        # ICMP: resolve only; sent, received, loss and the round trips.
        shown = _open_target(page, web, "icmp")
        assert page.locator("#probe").inner_text().lower() == "icmp"
        phases = _phases_on_page(page)
        assert phases["card"] == phases["chart"] == ["resolve"]
        # Its response time is the average round trip, not a phase: a line of its own.
        assert phases["legend"] == ["resolve", "round trip (avg)"]
        line = page.locator('#chart path[data-series="response"]')
        assert line.count() == 1 and line.evaluate("p => p.getBBox().width") > 300
        assert shown["icmp_sent"] == "3 sent · 2 received"
        assert shown["icmp_loss_pct"] == "33.3%"
        assert shown["icmp_rtt"] == "41 µs / 60 µs / 82 µs"
        assert "resolve 20 µs" in page.locator("#latest-phases").inner_text()
        assert shown["icmp_socket"] == "raw"
        page.screenshot(path=str(SCREENSHOTS / "target-icmp.png"), full_page=True)

        # TCP: the reply's start; HTTP: the version; a heartbeat: no phases.
        shown = _open_target(page, web, "tcp")
        assert shown["tcp_reply"] == TCP_DETAILS["tcp_reply"] and shown["tcp_reply_bytes"] == "21"
        labels = [t.upper() for t in page.locator(".tile .label").all_inner_texts()]
        assert "PROBE" in labels and "CERTIFICATE" not in labels  # a tcp check without TLS
        assert _phases_on_page(page)["card"] == PHASES_SHOWN["tcp"]
        shown = _open_target(page, web, "https")
        assert shown["http_version"] == "2" and shown["status_code"] == "200"
        assert _phases_on_page(page)["card"] == PHASES_SHOWN["https"]
        shown = _open_target(page, web, "push")
        assert _phases_on_page(page)["card"] == []
        assert "no timed phases" in page.locator("#latest-phases").inner_text()
        shown = _open_target(page, web, "later")
        assert shown == {"address": "127.0.0.1"}

        # Hostile details: shown as text, invisible controls escaped, no markup made.
        shown = _open_target(page, web, "hostile-bidi")
        escaped = "evil\\u202etxt.exe\\u2066x\\u2069\\u200b"
        assert shown["dns_rcode"] == escaped
        assert shown["dns_answers"].splitlines() == [escaped, "<img src=x onerror=alert(1)>"]
        assert page.locator("#latest-details img").count() == 0
        body = page.locator("body").inner_text()
        assert not any(c in body for c in "\u202e\u2066\u2069\u200b")
        page.screenshot(path=str(SCREENSHOTS / "target-hostile-details.png"), full_page=True)
        for case in ("array", "deep", "huge-numbers"):
            _open_target(page, web, f"hostile-{case}")
    assert watched.problems == []
    assert watched.external == []
