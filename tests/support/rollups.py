"""Rollups made by hand in tests, as the rollup job would have made them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg

from wac.rollups import job as rollup


def roll_up_known_checks(
    conn: psycopg.Connection, start: datetime, end: datetime, targets: Sequence[str]
) -> None:
    """Roll up these targets' checks of [start, end) up to the job's watermark only: a
    rollup row never holds a minute at or after it (readers read the row of the bucket
    holding the watermark, then raw rows), and the job rolls up the rest as it goes."""
    watermark, _ = rollup.read_state(conn)
    if watermark is not None:
        rollup.recompute(conn, start, min(end, watermark), targets)
