"""Telling apart the database errors the store handles differently.

- A *row error* (bad data: SQLSTATE classes 22, 23 and 54, or text the client cannot
  encode) belongs to one message: the writer finds that message and rejects it.
- Anything else (connection lost, server restarting, disk full, a revoked privilege)
  is the database's problem, not the message's: the store retries the whole batch with
  backoff and never moves an offset meanwhile.
"""

from __future__ import annotations

import psycopg

# SQLSTATE classes caused by the data of one row.
ROW_ERROR_CLASSES = ("22", "23", "54")


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
