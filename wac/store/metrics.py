"""Prometheus metrics of `wac store`, read from its `StoreStats` at scrape time.

The store already keeps every counter the summary line prints; this collector exposes
them, so a scrape costs the store nothing between scrapes.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from wac.store.stats import StoreStats


class StoreCollector(Collector):
    def __init__(self, stats: StoreStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self._stats
        counters = (
            ("wac_store_messages_consumed", "Kafka messages consumed and settled", s.consumed),
            ("wac_store_rows_written", "Rows inserted into checks", s.inserted),
            (
                "wac_store_duplicates",
                "Messages already stored or repeated in a batch (replays after a crash or "
                "rebalance), ignored",
                s.replayed + s.duplicates,
            ),
            ("wac_store_rejected_messages", "Messages sent to rejected_messages", s.rejected),
            (
                "wac_store_expired",
                "Results older than the retention horizon, skipped",
                s.expired,
            ),
            ("wac_store_batches", "Batches written", s.batches),
            (
                "wac_store_batch_seconds",
                "Seconds spent writing batches (divide by wac_store_batches_total)",
                s.write_seconds,
            ),
            (
                "wac_store_database_errors",
                "Outages of PostgreSQL during which batches were retried",
                s.db_outages,
            ),
            ("wac_store_kafka_errors", "Outages of Kafka the store waited out", s.kafka_outages),
        )
        for name, documentation, value in counters:
            yield CounterMetricFamily(name, documentation, value=value)
        yield GaugeMetricFamily(
            "wac_store_last_batch_size", "Messages in the latest batch", value=s.last_batch_size
        )
        yield GaugeMetricFamily(
            "wac_store_last_batch_seconds",
            "Time to write the latest batch",
            value=s.last_write_seconds,
        )
        if s.lag is not None:
            yield GaugeMetricFamily(
                "wac_store_consumer_lag",
                "Messages in the assigned partitions not consumed yet",
                value=s.lag,
            )
