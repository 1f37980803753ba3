"""Connections for the readers (report, web) and the rollup job."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

from wac.config import redact_url
from wac.conninfo import scrub
from wac.errors import ServiceUnavailable

# JIT compiling the report's wide aggregates costs ~0.5 s, several times the query itself.
# Times come back in UTC: in a zone east of it, a time late in year 9999 (a certificate
# that "never expires") would be in year 10000, which Python cannot hold.
READER_OPTIONS = "-c jit=off -c TimeZone=UTC"


def reader_options(url: str) -> str:
    """READER_OPTIONS after the `options` the URL may set (a search_path, say): a keyword
    argument would replace them."""
    try:
        given = conninfo_to_dict(url).get("options")
    except psycopg.ProgrammingError:
        given = None  # a malformed URL: connecting says what is wrong with it
    return f"{given} {READER_OPTIONS}" if given else READER_OPTIONS


def connect(url: str, application_name: str, *, read_only: bool = False) -> psycopg.Connection:
    """A connection, or a one-line ServiceUnavailable naming POSTGRES_ENDPOINT (redacted)."""
    try:
        conn = psycopg.connect(
            url,
            connect_timeout=10,
            application_name=application_name,
            options=reader_options(url),
        )
    except psycopg.OperationalError as exc:
        reason = scrub((str(exc).strip().splitlines() or [type(exc).__name__])[0], url)
        raise ServiceUnavailable(
            f"cannot connect to PostgreSQL at POSTGRES_ENDPOINT={redact_url(url)}: {reason}. "
            "Check that the server runs and the URL, user and password are right"
        ) from None
    if read_only:
        configure_reader(conn)
    return conn


def configure_reader(conn: psycopg.Connection) -> None:
    """Read-only, REPEATABLE READ: each transaction sees one snapshot for all its queries."""
    conn.read_only = True
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
