"""Rows PostgreSQL holds but the v1 contract refuses (huge or non-finite times, expiries
past year 9999 in UTC, infinities), as written before the store refused them: the
rollup job, `wac report` and the dashboard go on; a bad row costs its target's figure.

`pytest -s` prints how many examples the property tried (so does
`--hypothesis-show-statistics`).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.checks_data import insert_raw
from tests.support.processes import stop, wac, wait_for
from tests.support.servers import free_port
from tests.support.store import own_schema
from wac.db.connect import connect_reader
from wac.reports.report import build_report, format_table
from wac.result import ERROR_KINDS
from wac.rollups import job as rollup
from wac.rollups.tiers import MINUTE, floor_to
from wac.web import data

pytestmark = pytest.mark.integration

BASE = floor_to(datetime.now(UTC), MINUTE)
WINDOW = timedelta(days=4)
# One pass covers every row (they are at most three days old).
ROLLUP = rollup.RollupSettings(settle=timedelta(0), chunk=timedelta(days=5))
EXAMPLES = Counter[str]()
EXPIRIES_POSTGRES_HOLDS = [
    "infinity",
    "-infinity",
    "294276-12-31 23:59:59+00",
    "4713-01-01 00:00:00+00 BC",
    "10000-01-01 04:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "0001-01-01 00:00:00+00",
    "1949-12-31 23:59:59+00",
]


@pytest.fixture(scope="module", autouse=True)
def report_examples() -> Iterator[None]:
    yield
    for name, count in sorted(EXAMPLES.items()):
        print(f"\nHypothesis examples tried, {name}: {count}")


@pytest.fixture(scope="module")
def env(services_env: dict[str, str]) -> Iterator[dict[str, str]]:
    with own_schema(services_env) as schema_env:
        yield schema_env


@pytest.fixture(scope="module")
def writer(env: dict[str, str]) -> Iterator[psycopg.Connection]:
    with psycopg.connect(env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def reader(env: dict[str, str]) -> Iterator[psycopg.Connection]:
    """Configured as `wac report` and the dashboard's pool configure theirs."""
    with connect_reader(env["POSTGRES_ENDPOINT"], "test-reader", read_only=True) as conn:
        yield conn


def reset(conn: psycopg.Connection) -> None:
    conn.execute(
        "TRUNCATE checks, rollup_minute, rollup_minute10, rollup_hour, rollup_hour6, "
        "rollup_day, rollup_week, rollup_dirty, targets"
    )
    conn.execute("UPDATE rollup_state SET watermark = NULL, minute_horizon = NULL")


def roll_up(conn: psycopg.Connection) -> rollup.PassResult:
    result = rollup.catch_up(conn, ROLLUP, wait=30)
    conn.autocommit = True
    assert result.ran and result.caught_up
    return result


def strict_json(value: Any) -> Any:
    """What a browser's JSON.parse accepts: no NaN, no Infinity."""
    return json.loads(json.dumps(value, allow_nan=False))


def read_everything(reader: psycopg.Connection, targets: set[str], range_name: str) -> dict:
    """Every reader of rows: the report (JSON and table), the overview, target pages."""
    report = strict_json(build_report(reader, None, None, None, WINDOW))
    format_table(report)
    strict_json(data.overview(reader))
    for target in sorted(targets)[:3]:
        strict_json(data.target_detail(reader, target, range_name))
    return {row["target"]: row for row in report["targets"]}


# --- one known case, through the real processes ------------------------------------------------


def test_rows_python_cannot_hold_cost_only_their_own_figure(env: dict[str, str]) -> None:
    minute = BASE - timedelta(minutes=30)
    bad, good = "hostile", "bystander"
    rows: list[dict[str, object]] = [
        # Two response times near 1e308 in one minute: their sum overflows float8.
        {"target": bad, "checked_at": minute + timedelta(seconds=1), "response_time_ms": 1e308},
        {"target": bad, "checked_at": minute + timedelta(seconds=2), "response_time_ms": 1.7e308},
        # An expiry that is year 10000 in UTC, and one PostgreSQL's largest.
        {
            "target": bad,
            "checked_at": minute + timedelta(seconds=3),
            "tls_expires_at": "9999-12-31 23:00:00-05:00",
            "response_time_ms": math.nan,
        },
        {
            "target": bad,
            "checked_at": minute + timedelta(seconds=4),
            "tls_expires_at": "infinity",
            "resolve_ms": math.inf,
            "response_time_ms": 10.0,
        },
    ]
    expires = BASE + timedelta(days=30)
    rows += [
        {
            "target": good,
            "checked_at": minute + timedelta(seconds=s),
            "response_time_ms": 100.0,
            "tls_expires_at": expires.isoformat(),
        }
        for s in range(1, 5)
    ]
    with psycopg.connect(env["POSTGRES_ENDPOINT"], autocommit=True) as conn:
        reset(conn)
        insert_raw(conn, rows)
    children = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    children.update(env)

    done = wac(["rollup", "--once"], children)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(env["POSTGRES_ENDPOINT"]) as conn:
        ((watermark,),) = conn.execute("SELECT watermark FROM rollup_state").fetchall()
    assert watermark is not None and watermark > minute, done.stderr  # went past the bad minute

    done = wac(["report", "--since", "2h", "--json"], children)
    assert done.returncode == 0, done.stderr
    report = {r["target"]: r for r in json.loads(done.stdout)["targets"]}
    assert report[good]["checks"] == 4 and report[good]["response_time_ms"]["avg"] == 100.0
    assert report[good]["cert_days_left"] == pytest.approx(30, abs=0.1)
    hostile = report[bad]
    assert hostile["checks"] == 4  # counted; only the unusable values are unknown
    assert hostile["response_time_ms"]["count"] == 1 and hostile["response_time_ms"]["max"] == 10
    assert hostile["cert_days_left"] is None and hostile["tls_expires_at"] is None
    assert wac(["report", "--since", "2h"], children).returncode == 0

    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "wac", "web", "--port", str(port)],
        env={k: v for k, v in children.items() if k != "WAC_WEB_TOKEN"},  # no auth
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> Any:
        with urllib.request.urlopen(base + path, timeout=20) as response:
            assert response.status == 200
            return json.loads(response.read(), parse_constant=lambda c: pytest.fail(c))

    def ready() -> bool:
        assert web.poll() is None, web.communicate()
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(
            lambda: ready() if web.poll() is None else pytest.fail("wac web exited"), 30, "web"
        )
        overview = {r["target"]: r for r in get("/api/overview")["targets"]}
        assert overview[good]["checks_24h"] == 4 and overview[bad]["checks_24h"] == 4
        assert {r["target"] for r in get("/api/report?since=1d")["targets"]} == {bad, good}
        page = get(f"/api/target?name={bad}&range=1h")
        assert page["summary"]["checks"] == 4 and page["tls_expires_at"] is None
    finally:
        code, _, err = stop(web)
    assert code == 0, err


# --- any rows ----------------------------------------------------------------------------------

texts = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=30
)
milliseconds = (
    st.none()
    | st.floats()
    | st.sampled_from([1e308, 1.7e308, -1e308, 86_400_001.0, 5e-324, -0.0, math.inf, math.nan])
)
expiries = (
    st.none()
    | st.sampled_from(EXPIRIES_POSTGRES_HOLDS)
    | st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ).map(datetime.isoformat)
    | st.integers(10000, 294275).map(lambda year: f"{year}-06-01 00:00:00+00")
)
rows = st.fixed_dictionaries(
    {
        "target": st.sampled_from(["a", "b", "c"]) | texts.filter(bool),
        "checked_at": st.integers(120, 3 * 86400).map(lambda s: BASE - timedelta(seconds=s)),
        "ok": st.booleans(),
        "status_code": st.none() | st.integers(-32768, 32767),
        "response_time_ms": milliseconds,
        "resolve_ms": milliseconds,
        "connect_ms": milliseconds,
        "tls_ms": milliseconds,
        "processing_ms": milliseconds,
        "transfer_ms": milliseconds,
        "tls_expires_at": expiries,
        "error_kind": st.none() | st.sampled_from(ERROR_KINDS) | texts,
        "error_message": st.none() | texts,
        "url": texts,
        "pattern": st.none() | texts,
        "pattern_matched": st.none() | st.booleans(),
        "probe": st.none() | st.sampled_from(["tcp", "icmp", "push"]) | texts,
        "details": st.none()
        | st.dictionaries(
            texts,
            st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | texts,
            max_size=3,
        )
        | st.lists(texts, max_size=3),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(rows, min_size=1, max_size=8), range_name=st.sampled_from(list(data.RANGES)))
def test_any_rows_through_rollup_report_and_dashboard(
    writer: psycopg.Connection,
    reader: psycopg.Connection,
    batch: list[dict[str, object]],
    range_name: str,
) -> None:
    EXAMPLES["rows through rollup, report and dashboard"] += 1
    reset(writer)
    insert_raw(writer, batch)
    roll_up(writer)
    counts = Counter(str(r["target"]) for r in batch)
    report = read_everything(reader, set(counts), range_name)
    assert {t: r["checks"] for t, r in report.items()} == counts  # every row counted
    for target, row in report.items():
        rt = row["response_time_ms"]
        assert rt["max"] is None or 0 <= rt["max"] <= 86_400_000, target
        assert row["probe"] is None or isinstance(row["probe"], str)


# --- tier rows an older version rolled up ------------------------------------------------------


def test_tier_rows_out_of_range_read_as_unknown_and_the_migration_clears_them(
    writer: psycopg.Connection, reader: psycopg.Connection
) -> None:
    """Readers check the sums rather than every tier row (the job writes only checked
    values): a row of an older version with NaN or an expiry past year 9999 makes only
    its own target's figure unknown; migration 0150 clears such values in place."""
    reset(writer)
    day = floor_to(BASE - timedelta(days=3), timedelta(days=1))  # inside the window
    good, bad = "tier-good", "tier-bad"
    for target, rt_sum, rt_max, expiry in (
        (good, 600.0, 150.0, "2030-01-01 00:00:00+00"),
        (bad, math.nan, 1e308, "infinity"),
    ):
        writer.execute(
            "INSERT INTO rollup_day (target, bucket, checks, failures, rt_count, rt_sum,"
            " rt_min, rt_max, tls_expires_at, rt_b20) VALUES (%s, %s, 6, 0, 6, %s, 50, %s,"
            " %s::timestamptz, 6)",
            (target, day, rt_sum, rt_max, expiry),
        )
    writer.execute(
        "UPDATE rollup_state SET watermark = %s, minute_horizon = %s",
        (BASE, BASE - timedelta(days=35)),
    )
    report = strict_json(build_report(reader, None, None, None, timedelta(days=7)))
    format_table(report)
    rows = {row["target"]: row for row in report["targets"]}
    assert rows[good]["response_time_ms"]["avg"] == 100.0
    assert rows[good]["response_time_ms"]["max"] == 150.0
    assert rows[bad]["checks"] == 6 and rows[bad]["uptime_pct"] == 100.0
    assert rows[bad]["response_time_ms"]["avg"] is None
    assert rows[bad]["response_time_ms"]["max"] is None

    from wac.db.migrate import available_migrations

    cleanup = next(text for _, name, text in available_migrations() if name.startswith("0150"))
    writer.execute(cleanup.split("CREATE INDEX", 1)[0])  # the UPDATEs, not the indexes
    left = writer.execute(
        "SELECT target, rt_sum, rt_max, tls_expires_at FROM rollup_day ORDER BY target"
    ).fetchall()
    assert [(t, s, m, e is not None) for t, s, m, e in left] == [
        (bad, None, None, False),
        (good, 600.0, 150.0, True),
    ]
    reset(writer)
