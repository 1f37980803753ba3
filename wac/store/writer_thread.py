"""The store's writer stage: a thread that stores each batch, retrying until it is stored.

The consumer thread hands it one prepared batch at a time (`offer`: a queue of one, so
the consumer is at most one batch ahead). Each batch is written in one transaction
(`BatchWriter`); while PostgreSQL is away the same batch is retried with backoff
(`wac.runtime.backoff`), logged as one outage (one line when it starts, one when it
ends), and no offset moves. A stored batch goes to `done`, where the consumer thread
takes its offsets to commit them.

Every job carries the epoch it was made in. A rebalance or a stop starts a new epoch
(`abandon`): jobs of an older one are not started, and one being retried is given up
(its results were never committed: whoever owns the partitions next reads them again).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from wac.config import redact_url
from wac.db.connect import error_text
from wac.result import CheckResult
from wac.runtime.backoff import Backoff
from wac.runtime.outage import OutageTracker, emit
from wac.runtime.stop import Stop
from wac.store.decode import Batch, PartitionKey
from wac.store.settings import StoreSettings
from wac.store.stats import StoreStats
from wac.store.writer import BatchWriter, WriteOutcome

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
MAINTENANCE_INTERVAL_S = 3600.0
MAINTENANCE_RETRY_S = 60.0
STOP_WAIT_S = 30.0


@dataclass
class Job:
    batch: Batch
    epoch: int


class WriterThread:
    def __init__(
        self,
        writer: BatchWriter,
        settings: StoreSettings,
        stats: StoreStats,
        stop: Stop,
        *,
        on_stored: Callable[[list[CheckResult]], None] | None = None,
    ) -> None:
        self.writer = writer
        self.settings = settings
        self.stats = stats
        self.stop_event = stop.event
        self.on_failure = stop.fail  # a bug in the writer: the service stops
        self.on_stored = on_stored
        # The offsets of each stored batch, for the consumer thread to commit.
        self.done: queue.SimpleQueue[Mapping[PartitionKey, int]] = queue.SimpleQueue()
        self.epoch = 0
        self.outage = OutageTracker(
            "PostgreSQL",
            meanwhile=f"retrying the batch with backoff up to {MAX_BACKOFF_S:g} s; no Kafka "
            "offset moves until it is stored",
        )
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self._writing = threading.Event()  # set while a job is being written
        self._db_down = threading.Event()  # set while a job waits for PostgreSQL
        self._wake = threading.Event()  # cuts a backoff short: look at epoch and stop again
        self._thread = threading.Thread(target=self._loop, name="store-writer", daemon=True)
        self._next_maintenance = 0.0

    # ------------------------------------------------------------------ consumer side
    def start(self) -> None:
        self._thread.start()

    def offer(self, batch: Batch, timeout: float = 0.0) -> bool:
        """Hand a batch over; False when the writer is still busy with the previous one."""
        job = Job(batch, self.epoch)
        try:
            if timeout > 0:
                self._jobs.put(job, timeout=timeout)
            else:
                self._jobs.put_nowait(job)
        except queue.Full:
            return False
        return True

    def abandon(self) -> None:
        """A new epoch: the jobs handed over and not started are dropped."""
        self.epoch += 1
        self._wake.set()
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                return

    def wake(self) -> None:
        """Cut a retry's wait short (the service is stopping)."""
        self._wake.set()

    def wait_written(self, seconds: float) -> None:
        """Give the batch being written up to `seconds` to finish (not while it waits
        for PostgreSQL: that could take any time)."""
        deadline = time.monotonic() + seconds
        while (
            self._writing.is_set()
            and not self._db_down.is_set()
            and time.monotonic() < deadline
            and not self.stop_event.is_set()
        ):
            time.sleep(0.01)

    def stop(self) -> None:
        """Drop what is not started, let the batch being written finish, end the thread."""
        self.abandon()
        self._jobs.put(None)
        self._thread.join(STOP_WAIT_S)
        if self._thread.is_alive():
            log.warning("the batch being written did not finish in %g s; leaving it", STOP_WAIT_S)
        self.writer.close()

    # ------------------------------------------------------------------ the thread
    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._writing.set()
            try:
                if job.epoch == self.epoch:
                    self._store(job)
            except BaseException as exc:  # a bug: stop rather than hang
                log.exception("store writer failed")
                self.on_failure(exc)
                return
            finally:
                self._writing.clear()

    def _store(self, job: Job) -> None:
        batch = job.batch
        self.maybe_maintain()
        backoff = Backoff(cap=MAX_BACKOFF_S)
        while True:
            if job.epoch != self.epoch:
                if self._db_down.is_set():
                    log.warning("batch given up (partitions revoked or stopping); not stored")
                    self._db_down.clear()
                return
            started = time.monotonic()
            try:
                outcome = self.writer.write(batch)
                break
            except psycopg.Error as exc:
                self.writer.reset()
                self._db_down.set()
                line = self.outage.down(
                    f"cannot write a batch of {batch.messages} results to "
                    f"{redact_url(self.writer.url)}: {error_text(exc, self.writer.url)}",
                    time.monotonic(),
                    since=started,
                )
                if line is not None:
                    self.stats.outage("postgres")
                    emit(log, line)
                backoff.wait(self._wake)
                self._wake.clear()
                if self.stop_event.is_set():
                    log.warning("stopping while PostgreSQL is away: batch not stored")
                    return
        seconds = time.monotonic() - started
        self._db_down.clear()
        attempts = backoff.attempts + 1
        emit(log, self.outage.up(time.monotonic(), f"batch stored at attempt {attempts}"))
        self._record(batch, outcome, seconds)
        self.done.put(batch.offsets)
        if self.on_stored is not None and batch.results:
            self.on_stored(batch.results)

    def _record(self, batch: Batch, outcome: WriteOutcome, seconds: float) -> None:
        freshness = None
        if batch.first_timestamp_ms is not None:
            freshness = max(0.0, time.time() - batch.first_timestamp_ms / 1000)
        self.stats.record_batch(
            messages=batch.messages,
            inserted=outcome.inserted,
            replayed=outcome.replayed,
            duplicates=batch.duplicates,
            rejected=len(outcome.rejected),
            expired=batch.expired,
            target_updates=outcome.targets,
            seconds=seconds,
            freshness_s=freshness,
        )
        if outcome.rejected:
            first = outcome.rejected[0]
            log.warning(
                "%d message(s) rejected to rejected_messages, first: %s[%d]@%d: %s",
                len(outcome.rejected),
                first.topic,
                first.partition,
                first.offset,
                first.reason,
            )
        if batch.expired:
            log.warning(
                "%d result(s) older than the retention of %d days skipped",
                batch.expired,
                self.settings.retention_days,
            )

    # ------------------------------------------------------------------ partitions
    def maintain(self) -> None:
        """Today's and the next days' partitions, and retention; raises psycopg.Error."""
        self.writer.partitions.maintain(self.writer.connection(), datetime.now(UTC))
        self._next_maintenance = time.monotonic() + MAINTENANCE_INTERVAL_S

    def maybe_maintain(self) -> None:
        if time.monotonic() < self._next_maintenance:
            return
        try:
            self.maintain()
        except psycopg.Error as exc:
            self.writer.reset()
            log.warning(
                "partition maintenance failed (%s); retrying later",
                error_text(exc, self.writer.url),
            )
            self._next_maintenance = time.monotonic() + MAINTENANCE_RETRY_S
