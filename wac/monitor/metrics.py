"""Prometheus metrics of `wac monitor`, collected at scrape time.

A monitor makes thousands of checks a second; a prometheus-client Counter and six
Histogram observations per check would cost a noticeable share of a core. Instead the
check loop records into plain counters and the fixed-bucket histograms of
`wac.monitor.histogram` (one index computation each), and this collector turns them, the
scheduler's lateness histogram and the producer's counters into metric families when
Prometheus scrapes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from wac.monitor.histogram import Histogram, bucket_upper_ms
from wac.monitor.publisher import ResultPublisher
from wac.monitor.scheduler import SchedulerStats
from wac.result import CheckResult
from wac.runtime.metrics import PHASE_BUCKETS

PHASES = ("resolve", "connect", "tls", "processing", "transfer", "total")

LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0)


class MonitorCollector(Collector):
    def __init__(self, scheduler: SchedulerStats, publisher: ResultPublisher) -> None:
        self._scheduler = scheduler
        self._publisher = publisher
        self.checks: Counter[tuple[str, str]] = Counter()
        self.phases = {phase: Histogram() for phase in PHASES}

    def record(self, result: CheckResult) -> None:
        """Count one result (called in the check loop's thread)."""
        kind = result.error.kind if result.error is not None else "none"
        self.checks["up" if result.ok else "down", kind] += 1
        p = result.phases
        phases = self.phases
        for name, ms in (
            ("resolve", p.resolve),
            ("connect", p.connect),
            ("tls", p.tls),
            ("processing", p.processing),
            ("transfer", p.transfer),
            ("total", result.response_time_ms),
        ):
            if ms is not None:
                phases[name].record(ms / 1000.0)

    def collect(self) -> Iterator[Metric]:
        checks = CounterMetricFamily(
            "wac_monitor_checks",
            "Checks made, by result (up/down) and error kind (none when up)",
            labels=["result", "kind"],
        )
        for (result, kind), count in sorted(self.checks.copy().items()):
            checks.add_metric([result, kind], count)
        yield checks

        phase_family = HistogramMetricFamily(
            "wac_monitor_phase_seconds",
            "Time spent in each phase of a check (resolve, connect, tls, processing, "
            "transfer, and total)",
            labels=["phase"],
        )
        for phase, histogram in self.phases.items():
            buckets, total = prometheus_buckets(histogram, PHASE_BUCKETS)
            phase_family.add_metric([phase], buckets, total)
        yield phase_family

        lateness = HistogramMetricFamily(
            "wac_monitor_schedule_lateness_seconds",
            "How late a check started after its due time",
        )
        buckets, total = prometheus_buckets(self._scheduler.lateness, LATENESS_BUCKETS)
        lateness.add_metric([], buckets, total)
        yield lateness

        stats = self._publisher.stats
        yield GaugeMetricFamily(
            "wac_monitor_buffer_depth",
            "Results produced but not yet acknowledged by Kafka",
            value=self._publisher.waiting,
        )
        yield CounterMetricFamily(
            "wac_monitor_buffer_dropped",
            "Results dropped because the producer buffer was full",
            value=stats.dropped,
        )
        yield CounterMetricFamily(
            "wac_monitor_produce_errors",
            "Results Kafka reported it could not deliver",
            value=stats.failed,
        )
        yield GaugeMetricFamily(
            "wac_monitor_targets",
            "Targets scheduled by this monitor",
            value=self._scheduler.targets,
        )
        yield GaugeMetricFamily(
            "wac_monitor_checks_in_flight",
            "Checks started and not yet finished",
            value=self._scheduler.in_flight,
        )
        yield CounterMetricFamily(
            "wac_monitor_skipped_slots",
            "Scheduled checks skipped because the previous check of the target overran",
            value=self._scheduler.skipped,
        )


def prometheus_buckets(
    histogram: Histogram, bounds: Sequence[float]
) -> tuple[list[tuple[str, float]], float]:
    """Cumulative (le, count) pairs at `bounds` (seconds) and the sum, in seconds.

    The fine histogram's bucket edges (1 ms, then 100 ms) fall on every bound used here,
    so the counts are exact.
    """
    counts = list(histogram.counts)
    cumulative: list[tuple[str, float]] = []
    running = 0
    index = 0
    for bound in bounds:
        limit_ms = bound * 1000.0
        while index < len(counts) and bucket_upper_ms(index) <= limit_ms + 1e-9:
            running += counts[index]
            index += 1
        cumulative.append((repr(float(bound)), float(running)))
    cumulative.append(("+Inf", float(sum(counts))))
    return cumulative, histogram.sum_ms / 1000.0
