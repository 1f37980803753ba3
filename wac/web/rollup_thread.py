"""The dashboard's rollup thread: the rollup job every `interval` seconds, for ever.

It has a connection of its own (under the connection policy of wac.db.connect) and
outlives any failed pass, whatever failed: one warning line per failed pass, counted in
`wac_rollup_passes{outcome="error"}`, a new connection, and the next pass at the next
interval.
"""

from __future__ import annotations

import contextlib
import logging
import threading

import psycopg

from wac.db.connect import connect, error_text
from wac.errors import described
from wac.rollups import job as rollup
from wac.web.metrics import WebMetrics

log = logging.getLogger(__name__)

APPLICATION_NAME = "wac-web-rollup"


class RollupThread(threading.Thread):
    def __init__(self, url: str, interval: float, metrics: WebMetrics) -> None:
        super().__init__(name="wac-rollup", daemon=True)
        self.url = url
        self.interval = interval
        self.metrics = metrics
        self.stopping = threading.Event()

    def run(self) -> None:
        conn: psycopg.Connection | None = None
        while not self.stopping.is_set():
            try:
                if conn is None or conn.closed:
                    conn = connect(self.url, application_name=APPLICATION_NAME, reader=True)
                self._pass(conn)
            except Exception as exc:  # the thread must outlive any one failed pass
                self.metrics.rollup_passes.labels("error").inc()
                log.warning(
                    "rollup pass failed (retrying in %g s): %s",
                    self.interval,
                    error_text(exc, self.url) if isinstance(exc, psycopg.Error) else described(exc),
                )
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                conn = None
            self.stopping.wait(self.interval)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _pass(self, conn: psycopg.Connection) -> None:
        result = rollup.catch_up(conn, stop=self.stopping)
        if result.ran:
            self.metrics.rollup_passes.labels("ran").inc()
            self.metrics.rollup_pass_seconds.observe(result.seconds)
            self.metrics.rollup_lag_seconds.set(result.lag_seconds)
            self.metrics.rollup_late_minutes.inc(result.late_minutes)
        else:
            self.metrics.rollup_passes.labels("skipped").inc()
