"""Store bench: Kafka → PostgreSQL exactly once, against a raw COPY, and freshness.

    .venv/bin/python -m bench.store.run [--messages 400000] [--rate 2000] [--seconds 20]
    (or: make bench-store)

One run, on the local services (started when needed), in a schema of its own that is
dropped at the end:

1. Throughput. N realistic results (20,000 targets, a tenth of them down) are produced to a
   fresh topic of 6 partitions. The same rows, decoded from those messages, are first
   COPYed raw into `checks` (binary and text COPY of prepared buffers, best of two runs
   each; the faster format is the baseline), then the table is emptied and `wac store`
   (a child process, default settings) consumes the topic. Its rate is measured from
   its first offset commit to the commit of the last message (commits follow the
   database commit, so each commit proves rows are there), and the rows are counted
   against the produced count: rows = produced = distinct ids.
2. Freshness. A new topic and store; results produced at a steady rate (the monitor's
   producer settings), each stamped with its production time. A watcher polls
   PostgreSQL every 20 ms for new rows; a result's freshness is the start of the first
   poll that sees its row minus its production time (an upper bound: poll period
   included). p50/p99/max are printed, and the row count against the produced count.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from psycopg import sql
from psycopg.adapt import Transformer

from tests.support.store import with_schema
from wac.config import load_settings
from wac.db.migrate import migrate
from wac.result import CheckError, CheckResult, Phases, decode, encode
from wac.runtime.kafka import client_config
from wac.store.decode import CHECK_COLUMNS, CHECK_TYPES, check_row

PARTITIONS = 6
TARGETS = 20_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data
def realistic(i: int, at: datetime) -> CheckResult:
    """Result `i` of a fleet of TARGETS sites checked in turn; one site in ten is down."""
    t = i % TARGETS
    url = f"https://site-{t}.example.com/status?region=eu&check={t}"
    ok = t % 10 != 0
    https = t % 4 != 0
    return CheckResult(
        v=1,
        id=uuid.uuid4(),
        target=f"GET {url}",
        url=url,
        monitor="bench-eu-1",
        checked_at=at,
        ok=ok,
        status_code=200 if ok else 503,
        response_time_ms=round(random.uniform(5, 400), 3),
        phases=Phases(
            resolve=round(random.uniform(0.1, 5), 3),
            connect=round(random.uniform(0.2, 20), 3),
            tls=round(random.uniform(5, 60), 3) if https else None,
            processing=round(random.uniform(1, 300), 3),
            transfer=round(random.uniform(0.05, 10), 3),
        ),
        pattern="Welcome" if t % 3 == 0 else None,
        pattern_matched=ok if t % 3 == 0 else None,
        tls_expires_at=at + timedelta(days=t % 365) if https else None,
        error=None if ok else CheckError("status", "HTTP status 503, expected 2xx or 3xx"),
        final_url=None,
    )


def make_messages(count: int) -> list[tuple[bytes, bytes]]:
    start = datetime.now(UTC)
    out = []
    for i in range(count):
        result = realistic(i, start + timedelta(microseconds=50 * i))
        out.append((result.target.encode(), encode(result)))
    return out


# ---------------------------------------------------------------- Kafka
def create_topic(env: dict[str, str]) -> None:
    kafka = load_settings(env).kafka()
    admin = AdminClient(client_config(kafka))
    admin.create_topics([NewTopic(kafka.topic, PARTITIONS, -1)])[kafka.topic].result(30)


def monitor_producer(env: dict[str, str]) -> Producer:
    """The monitor's producer settings (wac.monitor.publisher)."""
    return Producer(
        client_config(
            load_settings(env).kafka(),
            **{
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 1_000_000,
            },
        )
    )


def produce_all(env: dict[str, str], messages: list[tuple[bytes, bytes]]) -> float:
    producer = monitor_producer(env)
    topic = env["KAFKA_TOPIC"]
    started = time.perf_counter()
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.01)
    assert producer.flush(120) == 0
    return len(messages) / (time.perf_counter() - started)


class CommitWatcher:
    """The store group's committed offsets, summed over the topic's partitions."""

    def __init__(self, env: dict[str, str]) -> None:
        kafka = load_settings(env).kafka()
        self.partitions = [TopicPartition(kafka.topic, p) for p in range(PARTITIONS)]
        self.consumer = Consumer(
            client_config(kafka, **{"group.id": kafka.group_id, "enable.auto.commit": False})
        )

    def committed(self) -> int:
        offsets = self.consumer.committed(self.partitions, timeout=10)
        return sum(max(tp.offset, 0) for tp in offsets)

    def close(self) -> None:
        self.consumer.close()


# ---------------------------------------------------------------- PostgreSQL
@contextmanager
def bench_schema(env: dict[str, str]) -> Iterator[str]:
    schema = f"wac_bench_{uuid.uuid4().hex[:8]}"
    base = env["POSTGRES_ENDPOINT"]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    url = with_schema(base, schema)
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
        yield url
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def copy_buffer(conn: psycopg.Connection, rows: list[tuple[Any, ...]], binary: bool) -> bytes:
    """The COPY stream of these rows, prepared ahead (not timed)."""
    from psycopg._copy_base import BinaryFormatter, TextFormatter

    tx = Transformer(conn)
    formatter: BinaryFormatter | TextFormatter
    if binary:
        oids = [conn.adapters.types[name].oid for name in CHECK_TYPES]
        tx.set_dumper_types(oids, psycopg.pq.Format.BINARY)
        formatter = BinaryFormatter(tx)
    else:
        formatter = TextFormatter(tx)
    out = bytearray()
    for row in rows:
        out += formatter.write_row(row)
    out += formatter.end()
    return bytes(out)


def raw_copy_rate(url: str, data: bytes, rows: int, binary: bool) -> float:
    columns = sql.SQL(", ").join(map(sql.Identifier, CHECK_COLUMNS))
    statement = sql.SQL("COPY checks ({}) FROM STDIN {}").format(
        columns, sql.SQL("(FORMAT BINARY)" if binary else "")
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE checks")
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
            step = 1 << 20
            for i in range(0, len(data), step):
                copy.write(data[i : i + step])
        elapsed = time.perf_counter() - started
        (count,) = conn.execute("SELECT count(*) FROM checks").fetchone() or (0,)
        assert count == rows, (count, rows)
        conn.execute("TRUNCATE checks")
    return rows / elapsed


def ensure_today(url: str) -> None:
    from wac.store.partitions import Partitions

    with psycopg.connect(url, autocommit=True) as conn:
        Partitions().maintain(conn, datetime.now(UTC))


def counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT id) FROM checks").fetchone()
    assert row is not None
    return row[0], row[1]


# ---------------------------------------------------------------- the store
@contextmanager
def store_process(env: dict[str, str], logdir: Path, name: str) -> Iterator[subprocess.Popen]:
    path = logdir / f"store-{name}.log"
    with path.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "wac", "store"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    if process.returncode != 0:
        log(f"store {name} exited with {process.returncode}; log:\n{path.read_text()[-3000:]}")


def throughput(env: dict[str, str], count: int, logdir: Path) -> dict[str, Any]:
    env = {**env, "KAFKA_TOPIC": f"wac-bench-store-{uuid.uuid4().hex[:8]}"}
    env["KAFKA_GROUP_ID"] = env["KAFKA_TOPIC"]
    url = env["POSTGRES_ENDPOINT"]
    log(f"making {count} messages")
    messages = make_messages(count)
    create_topic(env)
    log("producing them to Kafka")
    produce_rate = produce_all(env, messages)
    ensure_today(url)

    log("raw COPY baseline (same rows, same table)")
    rows = [check_row(decode(value)) for _, value in messages]
    raw: dict[str, float] = {}
    with psycopg.connect(url) as conn:
        buffers = {
            "binary": copy_buffer(conn, rows, binary=True),
            "text": copy_buffer(conn, rows, binary=False),
        }
    for _ in range(2):
        for fmt, data in buffers.items():
            rate = raw_copy_rate(url, data, len(rows), binary=fmt == "binary")
            raw[fmt] = max(raw.get(fmt, 0.0), rate)
    del buffers, rows

    log("wac store")
    watcher = CommitWatcher(env)
    samples: list[tuple[float, int]] = []
    started = time.perf_counter()
    with store_process(env, logdir, "throughput"):
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = watcher.committed()
            now = time.perf_counter()
            if done:
                samples.append((now, done))
            if done >= count:
                break
            time.sleep(0.05)
    watcher.close()
    assert samples and samples[-1][1] == count, "the store did not commit every offset"
    (t_first, c_first), (t_last, _) = samples[0], samples[-1]
    rows_now, distinct = counts(url)
    return {
        "count": count,
        "produce_rate": produce_rate,
        "raw": raw,
        "store_rate": (count - c_first) / (t_last - t_first),
        "store_rate_wall": count / (t_last - started),
        "rows": rows_now,
        "distinct": distinct,
    }


class RowWatcher(threading.Thread):
    """Polls PostgreSQL for newly visible rows; records when each id was first seen."""

    def __init__(self, url: str, period: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.period = period
        self.produced: dict[str, float] = {}  # id → production time (epoch s), in order
        self.unseen: dict[str, datetime] = {}  # id → checked_at, in production order
        self.latency: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def add(self, check_id: str, produced_at: float, checked_at: datetime) -> None:
        with self.lock:
            self.produced[check_id] = produced_at
            self.unseen[check_id] = checked_at

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                with self.lock:
                    since = next(iter(self.unseen.values()), None)
                if since is None:
                    time.sleep(self.period)
                    continue
                polled_at = time.time()
                ids = conn.execute(
                    "SELECT id::text FROM checks WHERE checked_at >= %s", (since,)
                ).fetchall()
                with self.lock:
                    for (check_id,) in ids:
                        if self.unseen.pop(check_id, None) is not None:
                            self.latency[check_id] = polled_at - self.produced[check_id]
                time.sleep(max(0.0, self.period - (time.time() - polled_at)))


def freshness(env: dict[str, str], rate: int, seconds: float, logdir: Path) -> dict[str, Any]:
    env = {**env, "KAFKA_TOPIC": f"wac-bench-fresh-{uuid.uuid4().hex[:8]}"}
    env["KAFKA_GROUP_ID"] = env["KAFKA_TOPIC"]
    url = env["POSTGRES_ENDPOINT"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE checks, targets")
    create_topic(env)
    producer = monitor_producer(env)
    topic = env["KAFKA_TOPIC"]
    watcher = RowWatcher(url)
    with store_process(env, logdir, "freshness"):
        # Warm-up: one result per partition's worth, stored before measuring.
        warm = [realistic(i, datetime.now(UTC)) for i in range(50)]
        for r in warm:
            producer.produce(topic, encode(r), r.target.encode())
        producer.flush(30)
        deadline = time.monotonic() + 60
        while counts(url)[0] < len(warm):
            assert time.monotonic() < deadline, "the store did not start"
            time.sleep(0.1)
        watcher.start()
        log(f"producing {rate}/s for {seconds:g} s")
        total = int(rate * seconds)
        tick = 0.005
        per_tick = rate * tick
        started = time.perf_counter()
        sent = 0
        i = 0
        while sent < total:
            due = min(total, int((time.perf_counter() - started) / tick * per_tick) + 1)
            while sent < due:
                now = datetime.now(UTC)
                result = realistic(i, now)
                i += 1
                watcher.add(str(result.id), now.timestamp(), now)
                producer.produce(topic, encode(result), result.target.encode())
                sent += 1
            producer.poll(0)
            time.sleep(tick)
        achieved = total / (time.perf_counter() - started)
        producer.flush(30)
        deadline = time.monotonic() + 30
        while watcher.unseen and time.monotonic() < deadline:
            time.sleep(0.1)
        watcher.stop.set()
        watcher.join()
    rows, distinct = counts(url)
    latencies = sorted(watcher.latency.values())

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    return {
        "rate": achieved,
        "produced": total + len(warm),
        "seen": len(latencies),
        "p50": pct(0.50),
        "p99": pct(0.99),
        "max": latencies[-1],
        "rows": rows,
        "distinct": distinct,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400_000, help="throughput messages")
    parser.add_argument("--rate", type=int, default=2000, help="freshness: results/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="freshness: duration")
    args = parser.parse_args()
    random.seed(4)

    from wac.localservices import LocalServices

    local = LocalServices()
    local.up()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "POSTGRES_"))}
    env.update(local.env())
    env["WAC_LOG_LEVEL"] = "INFO"
    logdir = Path(tempfile.mkdtemp(prefix="wac-bench-store-"))
    load_before = os.getloadavg()
    with bench_schema(env) as url:
        env["POSTGRES_ENDPOINT"] = url
        t = throughput(env, args.messages, logdir)
        f = freshness(env, args.rate, args.seconds, logdir)

    base_fmt = max(t["raw"], key=lambda k: t["raw"][k])
    base = t["raw"][base_fmt]
    ratio = t["store_rate"] / base
    exact = t["rows"] == t["count"] == t["distinct"]
    fresh_exact = f["rows"] == f["produced"] == f["distinct"]

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    load = " ".join(f"{x:.2f}" for x in load_before)
    print(f"wac store bench: {os.cpu_count()} CPUs, load average {load} at start, logs in {logdir}")
    print(
        f"throughput: {t['count']:,} results, {TARGETS:,} targets, {PARTITIONS} partitions "
        f"(produced at {t['produce_rate']:,.0f}/s)"
    )
    print(
        f"  raw COPY into checks: binary {t['raw']['binary']:,.0f} rows/s, "
        f"text {t['raw']['text']:,.0f} rows/s (best of 2 each)"
    )
    print(
        f"  wac store, Kafka -> PostgreSQL exactly once: {t['store_rate']:,.0f} results/s "
        f"(first to last offset commit; {t['store_rate_wall']:,.0f}/s including start-up)"
    )
    print(
        f"  rows {t['rows']:,} / produced {t['count']:,} / distinct ids {t['distinct']:,}: "
        f"{verdict(exact)}"
    )
    print(
        f"  ratio store / raw {base_fmt} COPY = {ratio:.2f} (goal >= 0.40): "
        f"{verdict(ratio >= 0.40 and exact)}"
    )
    print(
        f"freshness at {f['rate']:,.0f} results/s: production -> row visible, "
        f"p50 {f['p50']:.3f} s, p99 {f['p99']:.3f} s, max {f['max']:.3f} s "
        f"({f['seen']:,} results timed; 20 ms polls)"
    )
    print(
        f"  rows {f['rows']:,} / produced {f['produced']:,} / distinct ids {f['distinct']:,}: "
        f"{verdict(fresh_exact)}"
    )
    print(f"  p99 {f['p99']:.3f} s (goal <= 1 s): {verdict(f['p99'] <= 1.0 and fresh_exact)}")


if __name__ == "__main__":
    main()
