"""Every PostgreSQL connection wac opens is made here, with one policy.

The policy (`POLICY`), for every connection and pool: connecting gives up after
`CONNECT_TIMEOUT_S` (a server that vanished with its network never answers), and TCP
keepalives notice a dead server or network in about 25 s instead of the kernel's
hours, so a service blocked on a query learns it and retries (a URL that sets one of
these itself keeps its own value). Each connection names
its service (`application_name`, as `pg_stat_activity` shows it), and an error is told
in one line with no secret of the URL in it (`error_text`, `unreachable`).

- `connect`: one connection (autocommit or not, the readers' options or not); raises
  psycopg.OperationalError when it cannot be made, for callers that retry.
- `connect_at_start`: the same at start-up, where a database that cannot be reached is
  one clear ServiceUnavailable (exit 2) naming POSTGRES_ENDPOINT with its password
  masked and libpq's reason scrubbed of any secret it quotes (`unreachable`).
- `connect_reader`, `reader_pool`, `configure_reader`: the readers' connections (reports,
  the dashboard, the rollup job).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from wac.config import redact_url
from wac.conninfo import scrub
from wac.errors import ServiceUnavailable, first_line

CONNECT_TIMEOUT_S = 10
POLICY: dict[str, Any] = {
    "connect_timeout": CONNECT_TIMEOUT_S,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}

# JIT compiling the report's wide aggregates costs ~0.5 s, several times the query itself.
# Times come back in UTC: in a zone east of it, a time late in year 9999 (a certificate
# that "never expires") would be in year 10000, which Python cannot hold.
# A report sums 70 columns per target: 20,000 targets need about 70 MB of hash table,
# which spilled to disk at the default 4 MB (9 s instead of 2; docs/performance.md).
READER_OPTIONS = "-c jit=off -c TimeZone=UTC -c work_mem=64MB"


def policy(url: str) -> dict[str, Any]:
    """POLICY, but for what the URL sets itself."""
    return {key: value for key, value in POLICY.items() if key not in _given(url)}


def _given(url: str) -> dict[str, Any]:
    try:
        return conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return {}  # a malformed URL: connecting says what is wrong with it


def reader_options(url: str) -> str:
    """READER_OPTIONS after the `options` the URL may set (a search_path, say): a keyword
    argument would replace them."""
    given = _given(url).get("options")
    return f"{given} {READER_OPTIONS}" if given else READER_OPTIONS


def connect(
    url: str,
    *,
    application_name: str,
    autocommit: bool = False,
    reader: bool = False,
) -> psycopg.Connection:
    """A connection under the policy; raises psycopg.OperationalError when it cannot be made.

    `reader`: the readers' options (READER_OPTIONS).
    """
    options: dict[str, Any] = {
        **policy(url),
        "autocommit": autocommit,
        "application_name": application_name,
    }
    if reader:
        options["options"] = reader_options(url)
    return psycopg.connect(url, **options)


def error_text(exc: BaseException, url: str) -> str:
    """A database error in one line, scrubbed of any secret of `url` it may quote."""
    return scrub(first_line(exc), url)


def unreachable(exc: BaseException, url: str) -> ServiceUnavailable:
    """The one-line error for a database that cannot be reached: no secret in it."""
    return ServiceUnavailable(
        f"cannot connect to PostgreSQL at POSTGRES_ENDPOINT={redact_url(url)}: "
        f"{error_text(exc, url)}. Check that the server runs and the URL, user "
        "and password are right"
    )


def connect_at_start(
    url: str,
    *,
    application_name: str,
    reader: bool = False,
) -> psycopg.Connection:
    """`connect` at start-up: a database that cannot be reached is one clear error (exit 2)."""
    try:
        return connect(url, application_name=application_name, reader=reader)
    except psycopg.OperationalError as exc:
        raise unreachable(exc, url) from None


def connect_reader(
    url: str, application_name: str, *, read_only: bool = False
) -> psycopg.Connection:
    """A reader's connection (report, rollup), or a one-line ServiceUnavailable."""
    conn = connect_at_start(url, application_name=application_name, reader=True)
    if read_only:
        configure_reader(conn)
    return conn


def configure_reader(conn: psycopg.Connection) -> None:
    """Read-only, REPEATABLE READ: each transaction sees one snapshot for all its queries."""
    conn.read_only = True
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ


def reader_pool(url: str, *, size: int, application_name: str) -> ConnectionPool:
    """A pool of readers' connections (the dashboard's), opened by the caller."""
    return ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs={
            **policy(url),
            "application_name": application_name,
            "options": reader_options(url),
        },
        configure=configure_reader,
        open=False,
        name=application_name,
    )
