"""Writes one batch (checks, dead letters, target status) to PostgreSQL in one transaction.

Fast path: a binary COPY straight into `checks`. The primary key refuses a row that is
already there, which aborts the whole transaction: nothing half-written, and the batch
is then written again by the idempotent path, a binary COPY into a session-local
staging table and `INSERT … SELECT … ON CONFLICT DO NOTHING`. Duplicates only come
from replays (a store killed between its database commit and its offset commit, a
rebalance), so nearly every batch takes the fast path, which costs about what a raw
COPY costs. After a replay the idempotent path is used until a batch has no
duplicates left.

A row the database refuses for its data (SQLSTATE classes 22, 23, 54) is found by
bisecting the batch in rolled-back trial transactions, and goes to
`rejected_messages` with the database's reason; the rest of the batch is written.
Every other error is raised for the caller to retry the batch: the database is away,
nothing was stored, no offset may move.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any

import psycopg
from psycopg import sql

from wac.result import CheckResult
from wac.store.db import connect, first_line, is_missing_partition, is_row_error
from wac.store.decode import CHECK_COLUMNS, CHECK_TYPES, Batch, Rejected, Row
from wac.store.partitions import Partitions
from wac.store.target_status import TargetStatus, TargetUpdate

log = logging.getLogger(__name__)

_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, CHECK_COLUMNS))
COPY_CHECKS = sql.SQL("COPY checks ({}) FROM STDIN (FORMAT BINARY)").format(_COLUMNS)
COPY_STAGING = sql.SQL("COPY checks_staging ({}) FROM STDIN (FORMAT BINARY)").format(_COLUMNS)
CREATE_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS checks_staging "
    "(LIKE checks INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
INSERT_FROM_STAGING = sql.SQL(
    "INSERT INTO checks ({cols}) SELECT {cols} FROM checks_staging ON CONFLICT DO NOTHING"
).format(cols=_COLUMNS)
INSERT_REJECTED = (
    'INSERT INTO rejected_messages (topic, "partition", "offset", key, value, reason) '
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)


@dataclass
class WriteOutcome:
    inserted: int  # new rows in checks
    replayed: int  # rows that were already there
    rejected: list[Rejected]  # dead letters written (decoding's and the database's)
    targets: int  # rows upserted in targets


class BatchWriter:
    """Owns one connection (opened lazily, dropped on failure) and writes batches."""

    def __init__(
        self,
        url: str,
        partitions: Partitions | None = None,
        targets: TargetStatus | None = None,
    ) -> None:
        self.url = url
        self.partitions = partitions if partitions is not None else Partitions()
        self.targets = targets if targets is not None else TargetStatus()
        self._conn: psycopg.Connection | None = None
        self._staging = False
        self._fast = True

    # ------------------------------------------------------------ connection
    def connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.url, timeout=5)
            self._staging = False
        return self._conn

    def reset(self) -> None:
        """Forget the connection after a failure; the next write reconnects."""
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None

    close = reset

    # ------------------------------------------------------------ writing
    def write(self, batch: Batch) -> WriteOutcome:
        """Store the batch in one transaction. Raises on a database problem."""
        conn = self.connection()
        rows, results, sources = list(batch.rows), list(batch.results), list(batch.sources)
        rejected = list(batch.rejected)
        if rows:
            self.partitions.ensure(conn, days_of(results))
        retried_partitions = False
        while True:
            try:
                return self._commit(conn, rows, results, rejected)
            except Exception as exc:
                if is_missing_partition(exc) and not retried_partitions:
                    # Dropped or never created by someone else: look again, once.
                    retried_partitions = True
                    self.partitions.forget()
                    self.partitions.ensure(conn, days_of(results))
                    continue
                if not is_row_error(exc):
                    raise
                refused = self._find_refused(conn, rows, results)
                if not refused:
                    raise  # not reproducible row by row: treat as a database problem
                for index, reason in refused.items():
                    rejected.append(Rejected.of(sources[index], f"database refused it: {reason}"))
                    log.warning("database refused a result (%s)", reason)
                keep = [i for i in range(len(rows)) if i not in refused]
                rows = [rows[i] for i in keep]
                results = [results[i] for i in keep]
                sources = [sources[i] for i in keep]

    def _commit(
        self,
        conn: psycopg.Connection,
        rows: Sequence[Row],
        results: Sequence[CheckResult],
        rejected: Sequence[Rejected],
    ) -> WriteOutcome:
        if self._fast and rows:
            try:
                return self._transaction(conn, rows, results, rejected, fast=True)
            except psycopg.errors.UniqueViolation:
                self._fast = False
                log.info("replayed results in this batch: storing it idempotently")
        outcome = self._transaction(conn, rows, results, rejected, fast=False)
        if outcome.replayed == 0:
            self._fast = True
        return outcome

    def _transaction(
        self,
        conn: psycopg.Connection,
        rows: Sequence[Row],
        results: Sequence[CheckResult],
        rejected: Sequence[Rejected],
        *,
        fast: bool,
    ) -> WriteOutcome:
        with conn.transaction():
            inserted, updates = self._apply(conn, rows, results, rejected, fast=fast)
        self.targets.committed(updates)
        return WriteOutcome(
            inserted=inserted,
            replayed=len(rows) - inserted,
            rejected=list(rejected),
            targets=len(updates),
        )

    def _apply(
        self,
        conn: psycopg.Connection,
        rows: Sequence[Row],
        results: Sequence[CheckResult],
        rejected: Sequence[Rejected],
        *,
        fast: bool,
    ) -> tuple[int, list[TargetUpdate]]:
        inserted = 0
        with conn.cursor() as cur:
            if rows and fast:
                self._copy(cur, COPY_CHECKS, rows)
                inserted = len(rows)
            elif rows:
                if not self._staging:
                    cur.execute(CREATE_STAGING)
                    self._staging = True
                self._copy(cur, COPY_STAGING, rows)
                cur.execute(INSERT_FROM_STAGING)
                inserted = cur.rowcount
            if rejected:
                cur.executemany(
                    INSERT_REJECTED,
                    [
                        (r.topic, r.partition, r.offset, r.key, r.value, _text(r.reason))
                        for r in rejected
                    ],
                )
            updates = self.targets.updates(results)
            self.targets.write(cur, updates)
        return inserted, updates

    @staticmethod
    def _copy(cur: psycopg.Cursor[Any], statement: sql.Composed, rows: Sequence[Row]) -> None:
        with cur.copy(statement) as copy:
            copy.set_types(list(CHECK_TYPES))
            for row in rows:
                copy.write_row(row)

    # ------------------------------------------------------------ refused rows
    def _find_refused(
        self, conn: psycopg.Connection, rows: Sequence[Row], results: Sequence[CheckResult]
    ) -> dict[int, str]:
        """Indexes of the rows the database refuses on their own, with its reason."""
        refused: dict[int, str] = {}

        def trial(indexes: list[int]) -> None:
            try:
                with conn.transaction(force_rollback=True):
                    self._apply(
                        conn,
                        [rows[i] for i in indexes],
                        [results[i] for i in indexes],
                        [],
                        fast=False,
                    )
            except Exception as exc:
                if not is_row_error(exc):
                    raise
                if len(indexes) == 1:
                    refused[indexes[0]] = first_line(exc)
                else:
                    half = len(indexes) // 2
                    trial(indexes[:half])
                    trial(indexes[half:])

        trial(list(range(len(rows))))
        return refused


def days_of(results: Sequence[CheckResult]) -> set[date]:
    """The UTC days of these results (usually one: checked cheaply from the extremes)."""
    if not results:
        return set()
    low = min(r.checked_at for r in results).astimezone(UTC).date()
    high = max(r.checked_at for r in results).astimezone(UTC).date()
    if low == high:
        return {low}
    return {r.checked_at.astimezone(UTC).date() for r in results}


def _text(value: str) -> str:
    return value.replace("\x00", "\\0")
