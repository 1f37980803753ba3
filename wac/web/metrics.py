"""Prometheus metrics of `wac web`: its requests and the rollup job it runs."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from wac.runtime.metrics import PHASE_BUCKETS


class WebMetrics:
    """What `wac web` measures: its requests and the rollup job it runs."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.requests = Counter(
            "wac_web_requests",
            "HTTP requests, by route and status code",
            ["route", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "wac_web_request_seconds",
            "Time to answer a request, by route",
            ["route"],
            buckets=PHASE_BUCKETS,
            registry=registry,
        )
        self.rollup_passes = Counter(
            "wac_rollup_passes",
            "Rollup passes, by outcome (ran, skipped: another process held the lock, error)",
            ["outcome"],
            registry=registry,
        )
        self.rollup_pass_seconds = Histogram(
            "wac_rollup_pass_seconds",
            "Duration of a rollup pass that ran",
            buckets=PHASE_BUCKETS,
            registry=registry,
        )
        self.rollup_lag_seconds = Gauge(
            "wac_rollup_lag_seconds",
            "Now minus the rollup watermark (raw rows newer than it are read directly)",
            registry=registry,
        )
        self.rollup_late_minutes = Counter(
            "wac_rollup_late_minutes",
            "Minutes recomputed because rows arrived after they were rolled up",
            registry=registry,
        )
