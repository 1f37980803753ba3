"""The store's `targets` rows, the one read model of the current status, against the
history they summarise: whatever the batches and the order of results within them.

Batches go through the store's own code (`TargetStatus`: what to write, and the upsert
from a binary COPY) into a schema of the module's own. The expectation is computed
from the whole list of results, not from the store's code.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.store import own_schema, result
from wac.result import CheckResult
from wac.store import target_status
from wac.store.target_status import TargetStatus, summarize

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
EXPIRY = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def conn(services_env: dict[str, str]) -> Iterator[psycopg.Connection]:
    with own_schema(services_env) as env, psycopg.connect(env["POSTGRES_ENDPOINT"]) as c:
        c.execute(target_status.CREATE_STAGING)
        c.commit()
        yield c


@dataclass(frozen=True)
class Expected:
    ok: bool
    since: datetime
    first_seen: datetime
    latest: CheckResult


def expected(history: list[CheckResult]) -> Expected:
    """The current status of one target's checks: the newest check of any location,
    since the first check after the newest one of the other status."""
    ordered = sorted(history, key=lambda r: r.checked_at)
    latest = ordered[-1]
    other = [r.checked_at for r in ordered if r.ok != latest.ok]
    since = min(r.checked_at for r in ordered if not other or r.checked_at > max(other))
    return Expected(latest.ok, since, ordered[0].checked_at, latest)


def store(conn: psycopg.Connection, batches: list[list[CheckResult]], refresh_s: float) -> None:
    status = TargetStatus(refresh_s)
    for batch in batches:
        updates = status.updates(summarize(batch))
        with conn.transaction(), conn.cursor() as cur:
            status.write(cur, updates, None)
        status.committed(updates)


checks = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.booleans(),
        st.sampled_from(["eu", "us"]),
        st.booleans(),  # with a certificate
        st.integers(1, 40),  # seconds after the previous check
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    checks,
    st.lists(st.integers(1, 8), min_size=1, max_size=10),
    st.sampled_from([0, 60]),
    st.randoms(),
)
def test_targets_rows_hold_the_current_status_of_the_history(
    conn: psycopg.Connection,
    spec: list[tuple[str, bool, str, bool, int]],
    sizes: list[int],
    refresh_s: int,
    rnd: random.Random,
) -> None:
    at = T0
    history: list[CheckResult] = []
    for target, ok, location, tls, gap in spec:
        at += timedelta(seconds=gap)
        history.append(
            result(target, checked_at=at, ok=ok, monitor=location,
                   tls_expires_at=EXPIRY + timedelta(seconds=len(history)) if tls else None)
        )  # fmt: skip
    # Batches in order, each shuffled (the results of two locations interleave).
    batches, start = [], 0
    for size in sizes * len(history):
        if start >= len(history):
            break
        batch = history[start : start + size]
        rnd.shuffle(batch)
        batches.append(batch)
        start += size
    conn.execute("TRUNCATE targets")
    conn.commit()
    store(conn, batches, refresh_s)
    rows = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT target, last_ok, status_since, first_seen, last_seen, last_check_id, "
            "last_monitor, tls_expires_at FROM targets"
        )
    }
    conn.commit()
    assert set(rows) == {r.target for r in history}
    for target, (ok, since, first_seen, last_seen, check_id, monitor, expiry) in rows.items():
        want = expected([r for r in history if r.target == target])
        # A change of status is written at once: the status and its since are exact.
        assert (ok, since, first_seen) == (want.ok, want.since, want.first_seen)
        # The newest check, or one at most the refresh interval older, of the same status.
        assert want.latest.checked_at - timedelta(seconds=refresh_s) <= last_seen
        assert last_seen <= want.latest.checked_at
        if refresh_s == 0:
            assert (last_seen, check_id, monitor) == (
                want.latest.checked_at,
                want.latest.id,
                want.latest.monitor,
            )
        # The certificate: that of the newest written check that had one (it lags as
        # `last_seen` does).
        seen = [r.tls_expires_at for r in history if r.target == target and r.tls_expires_at]
        assert expiry is None or expiry in seen
        if refresh_s == 0:
            newest = [max((r for r in b if r.target == target), key=lambda r: r.checked_at)
                      for b in batches if any(r.target == target for r in b)]  # fmt: skip
            certs = [r.tls_expires_at for r in newest if r.tls_expires_at]
            assert expiry == (certs[-1] if certs else None)


def test_a_replayed_batch_changes_nothing(conn: psycopg.Connection) -> None:
    first = [result("r", checked_at=T0 + timedelta(seconds=i), ok=i != 3) for i in range(5)]
    later = [result("r", checked_at=T0 + timedelta(seconds=10 + i), ok=False) for i in range(3)]
    row = f"SELECT {', '.join(target_status.COLUMNS)} FROM targets"
    conn.execute("TRUNCATE targets")
    conn.commit()
    store(conn, [first, later], 60)
    before = conn.execute(row).fetchall()
    store(conn, [first], 60)  # a new process (empty memory) replays the first batch
    assert conn.execute(row).fetchall() == before
    conn.commit()
    assert before[0][target_status.COLUMNS.index("status_since")] == later[0].checked_at
