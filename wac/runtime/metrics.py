"""Prometheus metrics of every wac service, named and documented in one place.

`WebMetrics()` is the web service's set; the monitor's and the store's are collected at
scrape time from their own counters (`wac.monitor.metrics`, `wac.store.metrics`),
in a registry (the process-wide default unless given), so a process exposes only its
own metrics and tests can use a fresh `CollectorRegistry`. Names follow Prometheus
conventions: `wac_<service>_…`, base units (seconds, bytes), `_total` on counters
(added by prometheus-client), labels of small fixed sets only (never a URL or a target
id for the high-volume series). The README lists them all.

`serve(port, registry)` exposes a registry on its own HTTP port (`wac monitor
--metrics-port`, `wac store --metrics-port`, `wac alert --metrics-port`); `wac web`
serves its own on `/metrics`.
"""

from __future__ import annotations

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)

from wac.errors import ConfigError

# Seconds; from a loopback check (sub-millisecond) to a slow site.
PHASE_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0)
BATCH_SIZE_BUCKETS = (1, 10, 50, 100, 500, 1000, 2000, 5000, 10000)


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


def serve(port: int, registry: CollectorRegistry = REGISTRY, addr: str = "127.0.0.1") -> None:
    """Expose `registry` on http://addr:port/metrics from a daemon thread."""
    if not 0 < port < 65536:
        raise ConfigError(f"metrics port {port} is not a TCP port (1-65535)")
    try:
        start_http_server(port, addr=addr, registry=registry)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve metrics on {addr}:{port} ({exc.strerror}): choose another port"
        ) from None
