"""The monitor service: targets → scheduler → probes → Kafka."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from wac.config import KafkaSettings
from wac.kafka import connect_check, ensure_topic
from wac.probes.http import probe_blocking
from wac.publisher import DEFAULT_BUFFER_LIMIT, ResultPublisher
from wac.result import CheckResult
from wac.scheduler import Scheduler
from wac.targets import Target

log = logging.getLogger(__name__)


def run_monitor(
    targets: list[Target],
    kafka: KafkaSettings,
    *,
    monitor_name: str,
    buffer_limit: int = DEFAULT_BUFFER_LIMIT,
    on_result: Callable[[CheckResult], None] | None = None,
) -> None:
    """Check the targets until SIGTERM or SIGINT, then flush what was produced."""
    connect_check(kafka)
    ensure_topic(kafka)
    asyncio.run(_monitor(targets, kafka, monitor_name, buffer_limit, on_result))


async def _monitor(
    targets: list[Target],
    kafka: KafkaSettings,
    monitor_name: str,
    buffer_limit: int,
    on_result: Callable[[CheckResult], None] | None,
) -> None:
    publisher = ResultPublisher(kafka, buffer_limit=buffer_limit)

    async def probe(target: Target) -> CheckResult:
        return await asyncio.to_thread(probe_blocking, target, monitor_name)

    def sink(result: CheckResult) -> None:
        publisher.publish(result)
        if on_result is not None:
            on_result(result)

    scheduler = Scheduler(probe, sink)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheduler.set_targets(targets)
    log.info(
        "monitor %s checking %d target(s), publishing to %s on %s",
        monitor_name,
        len(targets),
        kafka.topic,
        kafka.endpoint,
    )
    try:
        await stop.wait()
    finally:
        log.info("stopping: abandoning checks in flight, flushing results to Kafka")
        await scheduler.stop()
        undelivered = await asyncio.to_thread(publisher.close)
        stats = publisher.stats
        log.info(
            "monitor stopped: %d produced, %d delivered, %d dropped, %d undelivered",
            stats.produced,
            stats.delivered,
            stats.dropped,
            undelivered,
        )
