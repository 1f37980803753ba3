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
from datetime import UTC, date, datetime

import psycopg
from psycopg import sql

from wac.db.connect import connect
from wac.errors import first_line
from wac.result import CheckResult
from wac.runtime.dead_letters import Rejected, insert_rejected
from wac.store import target_status
from wac.store.copy_data import binary_copy
from wac.store.decode import (
    CHECK_COLUMNS,
    CHECK_TYPES,
    LATE_AFTER,
    Batch,
    Row,
    late_minutes,
    time_span,
)
from wac.store.partitions import Partitions
from wac.store.row_errors import is_missing_partition, is_row_error
from wac.store.target_status import TargetStatus, TargetUpdate, summarize

log = logging.getLogger(__name__)

APPLICATION_NAME = "wac-store"  # how the store's connections show in pg_stat_activity

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
# Minutes the rollup job must recompute: rows of them arrived late (see wac/rollups/job.py).
MARK_LATE = "INSERT INTO rollup_dirty (minute) SELECT unnest(%s::timestamptz[])"


# The batch's writes to `targets`, and their binary COPY stream when encoded already.
TargetWrites = tuple[list[TargetUpdate], bytes | None]


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
        self._fast = True

    # ------------------------------------------------------------ connection
    def connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = connect(self.url, application_name=APPLICATION_NAME, autocommit=True)
            # Session-local staging tables, created outside any transaction so that no
            # rollback takes them away.
            conn.execute(CREATE_STAGING)
            conn.execute(target_status.CREATE_STAGING)
            self._conn = conn
        return self._conn

    def open_connection(self) -> psycopg.Connection | None:
        """The connection if one is open, without connecting (safe from another thread)."""
        conn = self._conn
        return conn if conn is not None and not conn.closed else None

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
        rows, results, sources = batch.rows, batch.results, batch.sources
        payload = batch.payload
        updates = batch.target_updates
        targets = batch.target_payload
        if updates is None:
            updates, targets = self.targets.updates(summarize(results)), None
        rejected = list(batch.rejected)
        late = batch.late_minutes
        if late is None:
            late = late_minutes(results, datetime.now(UTC) - LATE_AFTER)
        if rows:
            self.partitions.ensure(conn, batch.days if batch.days is not None else days_of(results))
        retried_partitions = False
        while True:
            try:
                return self._commit(conn, Rows(rows, payload, late), (updates, targets), rejected)
            except Exception as exc:
                if is_missing_partition(exc) and not retried_partitions:
                    # Dropped or never created by someone else: look again, once.
                    retried_partitions = True
                    self.partitions.forget()
                    self.partitions.ensure(conn, days_of(results))
                    continue
                if not is_row_error(exc):
                    raise
                refused = self._find_refused(conn, rows)
                if not refused:
                    raise  # not reproducible row by row: treat as a database problem
                for index, reason in refused.items():
                    rejected.append(Rejected.of(sources[index], f"database refused it: {reason}"))
                    log.warning("database refused a result (%s)", reason)
                keep = [i for i in range(len(rows)) if i not in refused]
                rows = [rows[i] for i in keep]
                results = [results[i] for i in keep]
                sources = [sources[i] for i in keep]
                payload = None
                updates, targets = self.targets.updates(summarize(results)), None

    def _commit(
        self,
        conn: psycopg.Connection,
        rows: Rows,
        updates: TargetWrites,
        rejected: list[Rejected],
    ) -> WriteOutcome:
        if self._fast and rows.count:
            try:
                return self._transaction(conn, rows, updates, rejected, fast=True)
            except psycopg.errors.UniqueViolation:
                self._fast = False
                log.info("replayed results in this batch: storing it idempotently")
        outcome = self._transaction(conn, rows, updates, rejected, fast=False)
        if outcome.replayed == 0:
            self._fast = True
        return outcome

    def _transaction(
        self,
        conn: psycopg.Connection,
        rows: Rows,
        updates: TargetWrites,
        rejected: list[Rejected],
        *,
        fast: bool,
    ) -> WriteOutcome:
        with conn.transaction():
            inserted = self._apply(conn, rows, updates, rejected, fast=fast)
        self.targets.committed(updates[0])
        return WriteOutcome(
            inserted=inserted,
            replayed=rows.count - inserted,
            rejected=rejected,
            targets=len(updates[0]),
        )

    def _apply(
        self,
        conn: psycopg.Connection,
        rows: Rows,
        updates: TargetWrites,
        rejected: Sequence[Rejected],
        *,
        fast: bool,
    ) -> int:
        inserted = 0
        with conn.cursor() as cur:
            if rows.count and fast:
                with cur.copy(COPY_CHECKS) as copy:
                    copy.write(rows.payload(conn))
                inserted = rows.count
            elif rows.count:
                with cur.copy(COPY_STAGING) as copy:
                    copy.write(rows.payload(conn))
                cur.execute(INSERT_FROM_STAGING)
                inserted = cur.rowcount
            if rows.count and rows.late_minutes:
                # Same transaction as the rows: the rollup sees both or neither.
                cur.execute(MARK_LATE, (rows.late_minutes,))
            if rejected:
                insert_rejected(cur, rejected)
            self.targets.write(cur, *updates)
        return inserted

    # ------------------------------------------------------------ refused rows
    def _find_refused(self, conn: psycopg.Connection, rows: Sequence[Row]) -> dict[int, str]:
        """Indexes of the rows the database refuses on their own, with its reason."""
        refused: dict[int, str] = {}

        def trial(indexes: list[int]) -> None:
            try:
                with conn.transaction(force_rollback=True), conn.cursor() as cur:
                    with cur.copy(COPY_STAGING) as copy:
                        copy.write(binary_copy((rows[i] for i in indexes), CHECK_TYPES, conn))
                    cur.execute(INSERT_FROM_STAGING)
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


class Rows:
    """A batch's rows, their binary COPY stream (encoded when first needed) and the
    minutes of the late ones."""

    def __init__(
        self,
        rows: Sequence[Row],
        payload: bytes | None = None,
        late_minutes: Sequence[datetime] = (),
    ) -> None:
        self.rows = rows
        self.count = len(rows)
        self._payload = payload
        self.late_minutes = list(late_minutes)

    def payload(self, conn: psycopg.Connection) -> bytes:
        """The stream, encoded now if it was not (`conn` lends psycopg its types)."""
        if self._payload is None:
            self._payload = binary_copy(self.rows, CHECK_TYPES, conn)
        return self._payload


def days_of(
    results: Sequence[CheckResult], span: tuple[datetime, datetime] | None = None
) -> set[date]:
    """The UTC days of these results (usually one: checked cheaply from the extremes,
    `span` when known already)."""
    if not results:
        return set()
    oldest, newest = span or time_span(results)
    low, high = oldest.astimezone(UTC).date(), newest.astimezone(UTC).date()
    if low == high:
        return {low}
    return {r.checked_at.astimezone(UTC).date() for r in results}
