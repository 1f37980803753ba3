"""Connecting to PostgreSQL and telling apart the errors the store handles differently.

- A *row error* (bad data: SQLSTATE classes 22, 23 and 54, or text the client cannot
  encode) belongs to one message: the writer finds that message and rejects it.
- Anything else (connection lost, server restarting, disk full, a revoked privilege)
  is the database's problem, not the message's: the store retries the whole batch with
  backoff and never moves an offset meanwhile.
"""

from __future__ import annotations

import psycopg

from wac.config import redact_url
from wac.conninfo import scrub
from wac.errors import ServiceUnavailable

APPLICATION_NAME = "wac-store"
# SQLSTATE classes caused by the data of one row.
ROW_ERROR_CLASSES = ("22", "23", "54")


def connect(url: str, *, timeout: int = 10) -> psycopg.Connection:
    """An autocommit connection (transactions are explicit); raises OperationalError."""
    return psycopg.connect(
        url,
        connect_timeout=timeout,
        application_name=APPLICATION_NAME,
        autocommit=True,
        # Notice a vanished server (or network) in about 25 s instead of hours.
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
    )


def connect_database(url: str) -> psycopg.Connection:
    """Connect at start-up: a database that cannot be reached is one clear error (exit 2).

    A plain (not autocommit) connection, as other services use it too.
    """
    try:
        return psycopg.connect(url, connect_timeout=10, application_name=APPLICATION_NAME)
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable(
            f"cannot connect to PostgreSQL at POSTGRES_ENDPOINT={redact_url(url)}: "
            f"{scrub(first_line(exc), url)}. Check that the server runs and the URL, user "
            "and password are right"
        ) from None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_row_error(exc: BaseException) -> bool:
    """True when one row's data caused the error, so retrying the same batch cannot help."""
    if isinstance(exc, UnicodeError):
        return True
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate or ""
        return state[:2] in ROW_ERROR_CLASSES and not is_missing_partition(exc)
    return False


def is_missing_partition(exc: BaseException) -> bool:
    """A row whose day has no partition (another store dropped or has not created it)."""
    return isinstance(exc, psycopg.errors.CheckViolation) and "no partition of relation" in str(exc)
