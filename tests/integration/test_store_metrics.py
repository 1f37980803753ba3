"""`wac store --metrics-port`: Prometheus scrapes what the store did."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.test_monitor_metrics import scrape
from tests.support.processes import start, stop, wait_for
from tests.support.servers import free_port
from tests.support.store import own_schema, produce, results

pytestmark = pytest.mark.integration


@pytest.fixture
def env(isolated_env: dict[str, str]) -> Iterator[dict[str, str]]:
    with own_schema(isolated_env) as schema_env:
        yield schema_env


def test_store_exposes_rows_rejections_and_batches(env: dict[str, str]) -> None:
    good = results(40)
    produce(env, [*good, (b"t-0", b"not json"), good[0]])  # one poison, one replay
    port = free_port()
    store = start(["wac", "store", "--metrics-port", str(port)], env)
    try:

        def settled() -> dict | None:
            try:
                samples = scrape(port)
            except OSError:
                return None
            consumed = samples.get(("wac_store_messages_consumed_total", ()), 0)
            return samples if consumed == 42 else None

        found = wait_for(settled, 60, "42 messages settled in the metrics")
        assert found is not None
        samples = found
    finally:
        code, _, err = stop(store)
    assert code == 0, err
    assert samples[("wac_store_rows_written_total", ())] == 40
    assert samples[("wac_store_rejected_messages_total", ())] == 1
    assert samples[("wac_store_duplicates_total", ())] == 1
    assert samples[("wac_store_batches_total", ())] >= 1
    assert samples[("wac_store_batch_seconds_total", ())] > 0
    assert samples[("wac_store_database_errors_total", ())] == 0
