"""`wac monitor --metrics-port`: Prometheus scrapes what the monitor did."""

from __future__ import annotations

import urllib.request
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import start, stop, wait_for
from tests.support.servers import free_port

pytestmark = pytest.mark.integration


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_monitor_exposes_checks_phases_lateness_and_buffer(
    site: str, isolated_env: dict[str, str]
) -> None:
    port = free_port()
    run = uuid.uuid4().hex
    up_url, down_url = f"{site}/ok?run={run}", f"{site}/status/500?run={run}"
    monitor = start(
        ["wac", "monitor", up_url, down_url, "--period", "0.2", "--metrics-port", str(port)],
        isolated_env,
    )
    try:
        ups = ("wac_monitor_checks_total", (("kind", "none"), ("result", "up")))
        downs = ("wac_monitor_checks_total", (("kind", "status"), ("result", "down")))

        def enough() -> dict | None:
            try:
                samples = scrape(port)
            except OSError:
                return None
            return samples if samples.get(ups, 0) >= 3 and samples.get(downs, 0) >= 3 else None

        found = wait_for(enough, 30, "three checks of each target in the metrics")
        assert found is not None
        samples = found
    finally:
        code, _, err = stop(monitor)
    assert code == 0, err
    checks = samples[ups] + samples[downs]
    total_phase = ("wac_monitor_phase_seconds_count", (("phase", "total"),))
    assert samples[total_phase] == checks
    assert samples[("wac_monitor_phase_seconds_count", (("phase", "connect"),))] == checks
    assert ("wac_monitor_phase_seconds_count", (("phase", "tls"),)) in samples
    assert samples[("wac_monitor_phase_seconds_count", (("phase", "tls"),))] == 0  # plain http
    assert samples[("wac_monitor_schedule_lateness_seconds_count", ())] >= checks
    assert samples[("wac_monitor_targets", ())] == 2
    assert samples[("wac_monitor_buffer_dropped_total", ())] == 0
    assert ("wac_monitor_buffer_depth", ()) in samples
