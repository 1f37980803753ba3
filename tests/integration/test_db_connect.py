"""Every PostgreSQL connection wac opens follows one policy: timeouts, keepalives, a name."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import psycopg
import pytest

from tests.support.store import own_schema
from wac.db.connect import (
    CONNECT_TIMEOUT_S,
    connect,
    connect_at_start,
    connect_reader,
    error_text,
    reader_pool,
)

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
