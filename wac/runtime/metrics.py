"""Serving Prometheus metrics, and the conventions every wac service's metrics follow.

Each service defines its metrics beside what it measures (`wac.monitor.metrics`,
`wac.store.metrics`, `wac.alerts.metrics`, `wac.web.metrics`): the monitor's and the
store's are collected at scrape time from their own counters, in a registry (the
process-wide default unless given), so a process exposes only its own metrics and tests
can use a fresh `CollectorRegistry`. Names follow Prometheus conventions:
`wac_<service>_…`, base units (seconds, bytes), `_total` on counters (added by
prometheus-client), labels of small fixed sets only (never a URL or a target id for the
high-volume series). The README lists them all.

`serve(port, registry)` exposes a registry on its own HTTP port (`wac monitor
--metrics-port`, `wac store --metrics-port`, `wac alert --metrics-port`); `wac web`
serves its own on `/metrics`.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

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
