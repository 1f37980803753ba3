"""The `targets` table: the current status of every target, the one read model of it.

One row per target: first and last seen, the newest check's probe, status, error,
response time and monitor, since when its status (up or down) holds, and the latest certificate
expiry seen. With several monitor locations the newest check of any location wins
(`last_monitor` says which). `wac report`, the dashboard and the status pages read it.

Per batch, the latest result of each target is upserted in the batch's own transaction
(idempotent: LEAST/GREATEST and "newer wins", so a replay changes nothing). Writing a
row per check would double the database's work at high rates, so this process
remembers what it last wrote for each target and skips a target whose status did not
change and whose `last_seen` was written less than `refresh_s` ago: a change of status
is written at once, `last_seen` (and the response time with it) lags by up to
`refresh_s`. The memory is cleared at every rebalance, since another store may have
written meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from wac.result import CheckResult
from wac.store.copy_data import binary_copy

Status = tuple[bool, int | None, str | None]

COLUMNS = (
    "target",
    "url",
    "first_seen",
    "last_seen",
    "last_ok",
    "last_status_code",
    "last_error_kind",
    "last_error_message",
    "last_monitor",
    "last_check_id",
    "status_since",
    "last_response_time_ms",
    "tls_expires_at",
    "last_probe",
)
TYPES = (
    "text",
    "text",
    "timestamptz",
    "timestamptz",
    "bool",
    "int2",
    "text",
    "text",
    "text",
    "uuid",
    "timestamptz",
    "float8",
    "timestamptz",
    "text",
)
_cols = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
CREATE_STAGING = sql.SQL(
    "CREATE TEMP TABLE IF NOT EXISTS targets_staging ON COMMIT DELETE ROWS "
    "AS SELECT {} FROM targets WITH NO DATA"
).format(_cols)
COPY_STAGING = sql.SQL("COPY targets_staging ({}) FROM STDIN (FORMAT BINARY)").format(_cols)
# Merged by the upsert below; every other column is set by the newer check (the row's
# `last_seen` older than or as old as the batch's).
_MERGED = ("target", "first_seen", "last_seen", "status_since", "tls_expires_at")
NEWER_WINS = tuple(column for column in COLUMNS if column not in _MERGED)
_newer_wins = sql.SQL(",\n    ").join(
    sql.SQL(
        "{0} = CASE WHEN EXCLUDED.last_seen >= t.last_seen THEN EXCLUDED.{0} ELSE t.{0} END"
    ).format(sql.Identifier(column))
    for column in NEWER_WINS
)
# Newer wins; first_seen only moves back. A replay changes nothing.
UPSERT = sql.SQL("""
INSERT INTO targets AS t ({cols}) SELECT {cols} FROM targets_staging
ON CONFLICT (target) DO UPDATE SET
    first_seen = LEAST(t.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(t.last_seen, EXCLUDED.last_seen),
    {newer_wins},
    tls_expires_at = CASE WHEN EXCLUDED.last_seen >= t.last_seen
                          THEN coalesce(EXCLUDED.tls_expires_at, t.tls_expires_at)
                          ELSE t.tls_expires_at END,
    -- The status's run began in this batch (it held a check of the other status: the
    -- run starts after first_seen), or the status changed: the batch says since when.
    status_since = CASE WHEN EXCLUDED.last_seen >= t.last_seen
                             AND (EXCLUDED.status_since > EXCLUDED.first_seen
                                  OR EXCLUDED.last_ok <> t.last_ok
                                  OR t.status_since IS NULL)
                        THEN EXCLUDED.status_since ELSE t.status_since END,
    updated_at = now()
""").format(cols=_cols, newer_wins=_newer_wins)


@dataclass(frozen=True)
class Written:
    first_seen: datetime
    last_seen: datetime
    status: Status


@dataclass(frozen=True)
class TargetUpdate:
    target: str
    first_seen: datetime  # the batch's earliest check of the target
    latest: CheckResult
    # The first check of the run of the latest status that ends the batch: `first_seen`
    # when the whole batch had that status (the run may have begun before it).
    since: datetime


# target → [earliest checked_at, latest result, start of the latest status's run when
# the batch holds both statuses (else None)] in one batch.
Summary = dict[str, list[Any]]


def summarize(results: Sequence[CheckResult]) -> Summary:
    """Each target's earliest check time, latest result and, when its status changed
    within the batch, the first check of the latest status's run."""
    spans: Summary = {}
    mixed: list[str] = []
    get = spans.get
    for result in results:
        span = get(result.target)
        if span is None:
            spans[result.target] = [result.checked_at, result, None]
            continue
        newest = span[1]
        if result.ok is not newest.ok and span[2] is None:
            span[2] = True  # both statuses: where the latest one's run began is found below
            mixed.append(result.target)
        if result.checked_at > newest.checked_at:
            span[1] = result
        elif result.checked_at < span[0]:
            span[0] = result.checked_at
    if mixed:
        _find_runs(spans, mixed, results)
    return spans


def _find_runs(spans: Summary, mixed: list[str], results: Sequence[CheckResult]) -> None:
    """The start of the latest status's run of each target that had both statuses: its
    first check after the newest check of the other status (results may come in any
    order, e.g. from several monitor locations)."""
    wanted = set(mixed)
    other: dict[str, datetime] = {}
    for result in results:
        target = result.target
        if target in wanted and result.ok is not spans[target][1].ok:
            at = result.checked_at
            if target not in other or at > other[target]:
                other[target] = at
    starts: dict[str, datetime] = {}
    for result in results:
        target = result.target
        if target in wanted and result.ok is spans[target][1].ok:
            at = result.checked_at
            if at > other[target] and (target not in starts or at < starts[target]):
                starts[target] = at
    for target in mixed:
        span = spans[target]
        span[2] = starts.get(target, span[1].checked_at)


def encode(updates: Sequence[TargetUpdate], conn: psycopg.Connection) -> bytes:
    """The binary COPY stream of these updates, in COLUMNS order (see binary_copy)."""
    return binary_copy(
        (
            (
                u.target,
                u.latest.url,
                u.first_seen,
                u.latest.checked_at,
                u.latest.ok,
                u.latest.status_code,
                u.latest.error.kind if u.latest.error else None,
                u.latest.error.message if u.latest.error else None,
                u.latest.monitor,
                u.latest.id,
                u.since,
                u.latest.response_time_ms,
                u.latest.tls_expires_at,
                u.latest.probe,
            )
            for u in updates
        ),
        TYPES,
        conn,
    )


def _by_target(update: TargetUpdate) -> str:
    return update.target


def status_of(result: CheckResult) -> Status:
    return (result.ok, result.status_code, result.error.kind if result.error else None)


class TargetStatus:
    def __init__(self, refresh_s: float = 60.0) -> None:
        self.refresh = timedelta(seconds=refresh_s)
        self._written: dict[str, Written] = {}
        self._reset = False

    def reset(self) -> None:
        """Forget what was written (safe to call from another thread)."""
        self._reset = True

    def updates(self, summary: Summary) -> list[TargetUpdate]:
        """What a batch (summed up by `summarize`) must write, sorted by target (lock order)."""
        if self._reset:
            self._reset = False
            self._written = {}
        needed = self._needed
        return sorted(
            (
                TargetUpdate(target, first, newest, run or first)
                for target, (first, newest, run) in summary.items()
                if needed(target, first, newest, run)
            ),
            key=_by_target,
        )

    def _needed(
        self, target: str, first: datetime, newest: CheckResult, run: datetime | None
    ) -> bool:
        written = self._written.get(target)
        if written is None or first < written.first_seen:
            return True
        if newest.checked_at <= written.last_seen:
            return False
        if run is not None:  # the status changed and back within the batch: a new `since`
            return True
        if newest.checked_at - written.last_seen >= self.refresh:
            return True
        ok, code, kind = written.status
        error = newest.error
        return (
            newest.ok != ok
            or newest.status_code != code
            or (error.kind if error is not None else None) != kind
        )

    def write(
        self, cur: psycopg.Cursor[Any], updates: Sequence[TargetUpdate], payload: bytes | None
    ) -> None:
        """Upsert inside the caller's transaction (`payload`: `encode(updates)`, or None).

        Needs the session's `targets_staging` table (CREATE_STAGING, run at connection).
        """
        if not updates:
            return
        with cur.copy(COPY_STAGING) as copy:
            copy.write(payload if payload is not None else encode(updates, cur.connection))
        cur.execute(UPSERT)

    def committed(self, updates: Sequence[TargetUpdate]) -> None:
        """Remember what the committed transaction wrote."""
        for u in updates:
            old = self._written.get(u.target)
            if old is None or u.latest.checked_at >= old.last_seen:
                first = u.first_seen if old is None else min(old.first_seen, u.first_seen)
                self._written[u.target] = Written(first, u.latest.checked_at, status_of(u.latest))
            else:  # only an earlier first_seen was written
                self._written[u.target] = Written(
                    min(old.first_seen, u.first_seen), old.last_seen, old.status
                )
