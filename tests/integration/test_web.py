"""`wac web` as a user runs it: its JSON API, auth, /metrics, and the pages in a real
headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.support.browser import SCREENSHOTS, chromium, require_chromium, watched_page
from tests.support.checks_data import down, insert_checks, prefix, up
from tests.support.rollups import roll_up_known_checks
from tests.support.web_server import running_web
from wac.rollups.tiers import floor_to

pytestmark = pytest.mark.integration
TOKEN = "s3cret-token-for-tests"


@dataclass
class Site:
    base: str
    prefix: str  # of the three targets' ids: a search for it shows them alone
    flaky_url: str
    process: subprocess.Popen[str]
    steady: str
    down: str
    flaky: str
    now: datetime
    run_start: datetime  # the flaky target's failure run
    run_end: datetime
    down_since: datetime


def get(site: Site, path: str, token: str | None = TOKEN, basic: bool = False) -> tuple[int, Any]:
    request = urllib.request.Request(site.base + path)
    if token is not None:
        if basic:
            cred = base64.b64encode(f"anyone:{token}".encode()).decode()
            request.add_header("Authorization", f"Basic {cred}")
        else:
            request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            body = response.read().decode()
            kind = response.headers.get("Content-Type", "")
            return response.status, json.loads(body) if "json" in kind else body
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def site(services_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    p = prefix()
    steady, broken, flaky = p + "steady", p + "down", p + "flaky"
    flaky_url = f"https://shop-{p}example.test/"
    now = datetime.now(UTC)
    base = floor_to(now, timedelta(minutes=1)) - timedelta(hours=6)
    expires = now + timedelta(days=30, hours=2)
    checks = []
    for i in range(360):  # six hours, one check a minute
        at = base + timedelta(minutes=i, seconds=10)
        checks.append(up(steady, at, rt=100.0, tls_expires_at=expires))
        checks.append(
            down(broken, at, "timeout", "timed out after 1000 ms") if i >= 330 else up(broken, at)
        )
        if 170 <= i < 180:
            checks.append(replace(down(flaky, at, "connect", "Connection refused"), url=flaky_url))
        else:
            checks.append(up(flaky, at, rt=40.0 + i % 20, url=flaky_url))
    run_start = base + timedelta(minutes=170, seconds=10)
    run_end = base + timedelta(minutes=180, seconds=10)
    down_since = base + timedelta(minutes=330, seconds=10)
    with psycopg.connect(services_env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
        insert_checks(conn, checks)
        roll_up_known_checks(conn, base, base + timedelta(hours=6), [steady, broken, flaky])
        # The alerts' incidents, as `wac alert` records them; the steady target's was seen
        # by another location, whose checks are not in this data set.
        conn.execute(
            "INSERT INTO incidents (target, started, ended, cause, locations) VALUES "
            "(%s, %s, %s, 'connect: Connection refused', '{test}'), "
            "(%s, %s, NULL, 'timeout: timed out after 1000 ms', '{test}'), "
            "(%s, %s, %s, 'dns: seen from elsewhere', '{elsewhere}')",
            (
                flaky,
                run_start,
                run_end,
                broken,
                down_since,
                steady,
                base,
                base + timedelta(hours=1),
            ),
        )

    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    env.update(services_env)
    env.update({"WAC_WEB_TOKEN": TOKEN, "WAC_LOG_LEVEL": "INFO"})
    with running_web([], env, tmp_path_factory.mktemp("web") / "web.log") as web:
        yield Site(
            base=web.base,
            prefix=p,
            flaky_url=flaky_url,
            process=web.process,
            steady=steady,
            down=broken,
            flaky=flaky,
            now=now,
            run_start=run_start,
            run_end=run_end,
            down_since=down_since,
        )
    assert TOKEN not in web.output()


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def test_overview_api_has_the_known_numbers_failing_first(site: Site) -> None:
    status, data = get(site, f"/api/overview?q={site.prefix}")
    assert status == 200
    assert data["total"] == 3 and data["pages"] == 1 and len(data["targets"]) == 3
    rows = {r["target"]: r for r in data["targets"]}
    s, d, f = rows[site.steady], rows[site.down], rows[site.flaky]
    assert s["status"] == "up" and s["uptime"]["24h"] == 100.0 and s["checks_24h"] == 360
    assert s["cert_days_left"] == pytest.approx(30.1, abs=0.1)
    assert s["last_response_time_ms"] == 100.0 and s["p95_24h_ms"] == 100.0
    assert d["status"] == "down" and d["since"] == iso(site.down_since)
    assert d["uptime"] == {"24h": 91.67, "7d": 91.67, "30d": 91.67}
    assert d["last_error"] == {"kind": "timeout", "message": "timed out after 1000 ms"}
    assert f["uptime"]["24h"] == 97.22
    assert [r["target"] for r in data["targets"]] == [site.down, site.flaky, site.steady]
    assert data["counts"]["down"] >= 1 and data["counts"]["up"] >= 2  # the whole fleet's


def overview_ids(site: Site, query: str) -> tuple[list[str], dict[str, Any]]:
    status, data = get(site, f"/api/overview?q={site.prefix}&{query}")
    assert status == 200, data
    return [r["target"] for r in data["targets"]], data


def test_overview_api_searches_filters_sorts_and_pages(site: Site) -> None:
    s, d, f = site.steady, site.down, site.flaky
    assert overview_ids(site, "status=down")[0] == [d]
    assert overview_ids(site, "status=up")[0] == [f, s]
    assert overview_ids(site, "status=up,down&status=unknown")[0] == [d, f, s]
    assert overview_ids(site, "status=unknown")[0] == []
    assert overview_ids(site, "sort=uptime_24h")[0] == [d, f, s]  # 91.67, 97.22, 100
    assert overview_ids(site, "sort=uptime_30d&order=desc")[0] == [s, f, d]
    assert overview_ids(site, "sort=name&order=desc")[0] == [s, f, d]
    assert overview_ids(site, "sort=since")[0] == [s, f, d]  # f: up since its run ended
    assert overview_ids(site, "sort=response&order=desc")[0] == [s, f, d]  # d: no time
    assert overview_ids(site, "sort=cert")[0] == [s, d, f]  # only s has one; ties by id
    ids, data = overview_ids(site, "sort=uptime_24h&limit=2&page=2")
    assert ids == [s] and data["total"] == 3 and data["pages"] == 2
    assert data["query"] == {
        "q": site.prefix,
        "status": [],
        "sort": "uptime_24h",
        "order": "asc",
        "page": 2,
        "limit": 2,
    }
    ids, data = overview_ids(site, "page=7")
    assert ids == [] and data["total"] == 3  # past the last page: none, and the total
    # The search is of ids and URLs, any case.
    status, data = get(site, f"/api/overview?q={site.flaky_url[8:30].upper()}")
    assert [r["target"] for r in data["targets"]] == [f]
    status, data = get(site, f"/api/overview?q={site.prefix}FLAKY")
    assert [r["target"] for r in data["targets"]] == [f]
    for bad, says in (
        ("page=0", "page 0 is out of range"),
        ("limit=501", "limit 501 is out of range"),
        ("sort=p95", "sort 'p95' is not one of"),
        ("order=sideways", "order 'sideways'"),
        ("status=sideways", "status 'sideways'"),
        ("name=x", "unknown parameter 'name'"),
        ("q=a&q=b", "give q once"),
    ):
        status, body = get(site, f"/api/overview?{bad}")
        assert status == 400 and says in json.loads(body)["error"], (bad, body)


def test_target_api_series_days_incidents_errors(site: Site) -> None:
    status, data = get(site, f"/api/target?name={site.flaky}&range=24h")
    assert status == 200
    assert data["summary"]["checks"] == 360 and data["summary"]["failures"] == 10
    assert data["summary"]["failures_by_kind"] == {"connect": 10}
    assert data["step_s"] == 300
    points = [p for p in data["series"] if p["checks"]]
    assert sum(p["checks"] for p in points) == 360
    assert sum(p["failures"] for p in points) == 10
    assert all(
        set(p["phases"]) == {"resolve", "connect", "tls", "processing", "transfer"} for p in points
    )
    assert len(data["days"]) == 90 and data["days"][-1]["day"] == site.now.date().isoformat()
    assert sum(d["checks"] for d in data["days"]) == 360
    assert data["failure_runs"] == [
        {
            "start": iso(site.run_start),
            "end": iso(site.run_end),
            "ongoing": False,
            "duration_s": 600.0,
            "failed_checks": 10,
            "cause": {"kind": "connect", "message": "Connection refused"},
        }
    ]
    # Incidents are the alerts' (their table), of this target only.
    assert data["incidents"] == [
        {
            "target": site.flaky,
            "start": iso(site.run_start),
            "end": iso(site.run_end),
            "ongoing": False,
            "duration_s": 600.0,
            "cause": "connect: Connection refused",
        }
    ]
    assert len(data["errors"]) == 10 and data["errors"][0]["checked_at"] == iso(
        site.run_end - timedelta(minutes=1)
    )
    status, data = get(site, f"/api/target?name={site.down}&range=1h")
    assert data["failure_runs"][0]["ongoing"] is True
    assert data["failure_runs"][0]["start"] == iso(site.down_since)
    assert [(i["start"], i["ongoing"]) for i in data["incidents"]] == [(iso(site.down_since), True)]
    status, data = get(site, f"/api/target?name={site.steady}&range=1h")
    assert data["failure_runs"] == [] and len(data["incidents"]) == 1
    assert get(site, "/api/target?name=no-such-target")[0] == 404
    assert get(site, f"/api/target?name={site.down}&range=2y")[0] == 400


def test_auth_read_only_and_metrics(site: Site) -> None:
    assert get(site, "/api/overview", token=None)[0] == 401
    assert get(site, "/api/overview", token="wrong")[0] == 401
    assert get(site, "/", token=TOKEN, basic=True)[0] == 200
    assert get(site, "/api/overview", token="wrong", basic=True)[0] == 401
    request = urllib.request.Request(site.base + "/api/overview", method="POST")
    request.add_header("Authorization", f"Bearer {TOKEN}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405
    status, text = get(site, "/metrics")
    assert status == 200
    assert 'wac_web_requests_total{route="/api/overview",status="401"}' in text
    assert "wac_rollup_passes_total" in text and "wac_web_request_seconds_bucket" in text
    status, report = get(site, f"/api/report?since=24h&target={site.flaky}")
    assert status == 200 and report["targets"][0]["failures"] == 10


def test_pages_in_a_real_browser(site: Site) -> None:
    with chromium() as browser:
        watched = watched_page(browser, TOKEN)
        page = watched.page

        # Overview: numbers of the known data set, the failing target above the others.
        page.goto(f"{site.base}/?q={site.prefix}")
        page.wait_for_selector(f'tr[data-target="{site.steady}"]')
        row = page.locator(f'tr[data-target="{site.down}"]')
        assert row.locator(".badge").inner_text() == "DOWN"
        assert row.locator('td[data-window="24h"]').inner_text() == "91.67%"
        assert "timeout: timed out after 1000 ms" in row.inner_text()
        steady = page.locator(f'tr[data-target="{site.steady}"]')
        assert steady.locator(".badge").inner_text() == "UP"
        assert steady.locator('td[data-window="24h"]').inner_text() == "100%"
        assert "30 days" in steady.inner_text() and "100 ms" in steady.inner_text()
        targets = page.locator("#targets tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.target)"
        )
        assert targets.index(site.down) < targets.index(site.steady)
        page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)

        # Target page: chart drawn (stacked phase areas with real geometry), day bars,
        # the incident and the failure run with their cause, the latest errors.
        page.locator(f'tr[data-target="{site.flaky}"] a').click()
        page.wait_for_selector("#chart svg path[data-phase]")
        assert page.locator("#name").inner_text() == site.flaky
        phases = page.locator("#chart path[data-phase]").evaluate_all(
            "ps => ps.map(p => [p.dataset.phase, p.getBBox().width, p.getBBox().height,"
            " p.getAttribute('d').length])"
        )
        drawn = {name: (w, h, n) for name, w, h, n in phases}
        assert {"resolve", "connect", "processing", "transfer"} <= set(drawn)
        # Six hours of data on a 24-hour axis: a quarter of the plot's width, and the
        # processing phase (most of the 40-59 ms) most of its height.
        for name, least_height in (("connect", 1), ("processing", 80)):
            width, height, length = drawn[name]
            assert width > 200 and height > least_height and length > 100, (name, drawn[name])
        assert page.locator("#chart rect[data-failures]").count() >= 2
        assert page.locator(".tile").nth(0).inner_text().endswith("97.22%")
        # The day bar of the failure run's day: its checks and failures of the known schedule.
        run_day = site.run_start.date()
        first = site.run_start - timedelta(minutes=170)
        times = [first + timedelta(minutes=i) for i in range(360)]
        on_day = [t for t in times if t.date() == run_day]
        # The run may straddle midnight UTC: count only its failures on that day.
        failed_on_day = [t for t in times[170:180] if t.date() == run_day]
        expected = round(100 * (len(on_day) - len(failed_on_day)) / len(on_day), 3)
        day = page.locator(f'#days span[data-day="{run_day.isoformat()}"]')
        assert float(day.get_attribute("data-uptime") or "nan") == expected
        run = page.locator("#failure-runs tbody tr")
        assert run.count() == 1
        assert "connect" in run.inner_text() and "Connection refused" in run.inner_text()
        assert "10 min" in run.inner_text()
        incident = page.locator("#incidents tbody tr")
        assert incident.count() == 1
        assert "connect: Connection refused" in incident.inner_text()
        assert "10 min" in incident.inner_text()
        assert page.locator("#errors tbody tr").count() == 10
        page.hover("#chart svg", position={"x": 700, "y": 120})
        page.screenshot(path=str(SCREENSHOTS / "target.png"), full_page=True)

        # Switching the range redraws from the API; the page refreshes itself.
        page.locator('#ranges a[data-range="1h"]').click()
        page.wait_for_selector('#ranges a.active[data-range="1h"]')
        assert "range=1h" in page.url
        with page.expect_response(lambda r: "/api/target" in r.url, timeout=25_000):
            pass  # the next automatic refresh
        page.goto(f"{site.base}/target?name={site.down}")
        page.wait_for_selector("#failure-runs tbody tr")
        assert "ongoing" in page.locator("#failure-runs tbody tr").first.inner_text()
        assert "ongoing" in page.locator("#incidents tbody tr").first.inner_text()
        assert page.locator("#status .badge").inner_text() == "DOWN"
        page.screenshot(path=str(SCREENSHOTS / "target-down.png"), full_page=True)

        # An incident without a failed check here (another location saw it): each list
        # shows what it holds, and the empty one says so.
        page.goto(f"{site.base}/target?name={site.steady}")
        page.wait_for_selector("#incidents tbody tr")
        assert page.locator("#incidents tbody tr").count() == 1
        assert "dns: seen from elsewhere" in page.locator("#incidents tbody tr").inner_text()
        assert page.locator("#failure-runs tbody tr").count() == 0
        assert page.locator("#no-failure-runs").is_visible()
    assert watched.problems == []
    assert watched.external == []
    shutil.rmtree(SCREENSHOTS / "unused", ignore_errors=True)


def test_overview_search_filter_sort_and_pages_in_a_real_browser(site: Site) -> None:
    require_chromium()
    from playwright.sync_api import Page

    s, d, f = site.steady, site.down, site.flaky

    def shown(page: Page) -> list[str]:
        return list(
            page.locator("#targets tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.target)"
            )
        )

    def settled(page: Page, ids: list[str]) -> None:
        """Wait until the table shows exactly these rows (the API answers asynchronously)."""
        page.wait_for_function(
            "ids => JSON.stringify([...document.querySelectorAll('#targets tbody tr')]"
            ".map(r => r.dataset.target)) === JSON.stringify(ids)",
            arg=ids,
            timeout=15_000,
        )

    def act(page: Page, action: Callable[[], object]) -> None:
        """Do it and wait for the overview's answer to it."""
        with page.expect_response(lambda r: "/api/overview" in r.url, timeout=15_000):
            action()

    with chromium() as browser:
        watched = watched_page(browser, TOKEN)
        page = watched.page

        # Two a page: the failing target first, then the next page.
        page.goto(f"{site.base}/?q={site.prefix}&limit=2")
        settled(page, [d, f])
        assert page.locator("#page-info").inner_text() == "1-2 of 3 · page 1 of 2"
        assert page.locator("#prev").is_disabled() and page.locator("#next").is_enabled()
        assert page.locator("#search").input_value() == site.prefix
        act(page, lambda: page.locator("#next").click())
        settled(page, [s])
        assert "page=2" in page.url and page.locator("#next").is_disabled()
        act(page, lambda: page.locator("#prev").click())
        settled(page, [d, f])

        # Sorting by a column head, then the other way; the URL keeps the view.
        act(page, lambda: page.locator('#targets th[data-sort="uptime_30d"]').click())
        settled(page, [d, f])  # 91.67 %, 97.22 %, then 100 % on page 2
        assert page.locator('th[data-sort="uptime_30d"]').get_attribute("aria-sort") == "ascending"
        act(page, lambda: page.locator('#targets th[data-sort="uptime_30d"]').click())
        settled(page, [s, f])
        assert "sort=uptime_30d" in page.url and "order=desc" in page.url
        assert page.locator('th[data-sort="uptime_30d"]').get_attribute("aria-sort") == (
            "descending"
        )
        act(page, page.reload)
        settled(page, [s, f])

        # The status filter: its buttons count the whole fleet; one status at a time.
        act(page, lambda: page.locator('#filters button[data-status="down"]').click())
        settled(page, [d])
        assert (
            page.locator('#filters button[data-status="down"]').get_attribute("aria-pressed")
            == "true"
        )
        assert page.locator("#page-info").inner_text() == "1-1 of 1 · page 1 of 1"
        act(page, lambda: page.locator('#filters button[data-status=""]').click())
        settled(page, [s, f])

        # Search as one types: by the URL too; nothing found says so.
        act(page, lambda: page.locator("#search").fill(site.flaky_url[8:30]))
        settled(page, [f])
        act(page, lambda: page.locator("#search").fill(site.prefix + "no-such-target"))
        settled(page, [])
        assert page.locator("#empty").is_visible()
        assert page.locator("#empty").inner_text() == "No target matches."
        page.screenshot(path=str(SCREENSHOTS / "overview-search.png"), full_page=True)
    assert watched.problems == []
    assert watched.external == []
