"""Every PostgreSQL connection wac opens follows one policy: timeouts, keepalives, a name."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from tests.support.processes import wait_for
from tests.support.store import own_schema
from wac.db.connect import (
    CONNECT_TIMEOUT_S,
    connect,
    connect_at_start,
    connect_reader,
    error_text,
    reader_pool,
)
from wac.web.metrics import WebMetrics

pytestmark = pytest.mark.integration

KEEPALIVE = {"TCP_KEEPIDLE": 10, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 3}


def assert_policy(conn: psycopg.Connection, name: str) -> None:
    params = conn.info.get_parameters()
    assert params["connect_timeout"] == str(CONNECT_TIMEOUT_S)
    assert params["application_name"] == name
    # What the kernel does with the socket, not only what libpq was told.
    sock = socket.socket(fileno=conn.fileno())
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        for option, value in KEEPALIVE.items():
            assert sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, option)) == value
    finally:
        sock.detach()  # the socket stays libpq's
    shown = conn.execute(
        "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()"
    ).fetchone()
    assert shown == (name,)


@pytest.fixture
def url(services_env: dict[str, str]) -> Iterator[str]:
    with own_schema(services_env) as env:
        yield env["POSTGRES_ENDPOINT"]


def test_every_way_of_connecting_has_the_policy(url: str) -> None:
    with connect(url, application_name="wac-a", autocommit=True) as conn:
        assert_policy(conn, "wac-a")
    with connect_at_start(url, application_name="wac-b") as conn:
        assert_policy(conn, "wac-b")
    with connect_reader(url, "wac-c", read_only=True) as conn:
        assert_policy(conn, "wac-c")
        assert conn.execute("SHOW jit").fetchone() == ("off",)
    pool = reader_pool(url, size=1, application_name="wac-d")
    pool.open()
    try:
        with pool.connection() as conn:
            assert_policy(conn, "wac-d")
    finally:
        pool.close()


def test_a_url_that_sets_a_timeout_or_keepalive_itself_keeps_it(url: str) -> None:
    sep = "&" if "?" in url else "?"
    with connect(f"{url}{sep}connect_timeout=3&keepalives_idle=42", application_name="x") as conn:
        params = conn.info.get_parameters()
        assert params["connect_timeout"] == "3" and params["keepalives_idle"] == "42"
        assert params["keepalives_interval"] == "5"  # the rest of the policy still applies


def test_an_error_names_no_secret_of_the_url() -> None:
    url = "postgresql://wac:s3cret-pass@127.0.0.1:1/wac"
    quoted = psycopg.OperationalError(f"bad connection string {url}\nsecond line")
    text = error_text(quoted, url)
    assert "s3cret-pass" not in text and "\n" not in text


def test_the_dashboards_rollup_thread_survives_any_failed_pass_with_one_line_each(
    url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Any error, not only psycopg's: one warning per failed pass, counted; then it goes on,
    on a connection under the policy (it used to connect with no timeout)."""
    from wac.rollups import job
    from wac.web import rollup_thread

    real = job.catch_up
    failures = [ValueError("a bug in a pass"), KeyError("another"), RuntimeError("and one")]
    passes: list[str] = []
    timeouts: list[str] = []

    def flaky(conn: psycopg.Connection, **kw: object) -> job.PassResult:
        if failures:
            passes.append("failed")
            raise failures.pop(0)
        passes.append("ran")
        return real(conn, **kw)  # type: ignore[arg-type]

    def connecting(*args: object, **kw: object) -> psycopg.Connection:
        conn = connect(*args, **kw)  # type: ignore[arg-type]
        timeouts.append(conn.info.get_parameters()["connect_timeout"])
        return conn

    monkeypatch.setattr(job, "catch_up", flaky)
    monkeypatch.setattr(rollup_thread, "connect", connecting)
    metrics = WebMetrics(CollectorRegistry())
    caplog.set_level(logging.WARNING, logger="wac.web.rollup_thread")
    thread = rollup_thread.RollupThread(url, 0.05, metrics)
    thread.start()
    try:
        wait_for(lambda: "ran" in passes, 30, "a pass to run after the failures")
    finally:
        thread.stopping.set()
        thread.join(30)
    assert not thread.is_alive()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert "ValueError: a bug in a pass" in lines[0] and "KeyError: 'another'" in lines[1]
    assert metrics.rollup_passes.labels("error")._value.get() == 3
    assert metrics.rollup_passes.labels("ran")._value.get() >= 1
    # A new connection after each failed pass, each with a connect timeout.
    assert timeouts == [str(CONNECT_TIMEOUT_S)] * 4
