"""The monitor service: targets → scheduler → probers → Kafka.

Threads:
- the check loop (wac.monitor.loop.CheckLoop): schedules checks, runs them with the
  prober of each target's scheme (HTTP: one curl multi handle), turns each into a
  result and queues it in the Kafka producer;
- librdkafka's own threads and the publisher's callback thread;
- with `--fleet`, the fleet's consumer (wac.monitor.fleet.FleetFeed), which hands the
  loop the targets of its partitions of the targets topic instead of a file;
- the main thread: signals (SIGTERM/SIGINT stop, SIGHUP reloads: wac.runtime.signals),
  watching the targets file (a reload runs in a thread of its own, the file read in a
  child process: wac.monitor.reload_child), the periodic one-line summary, and the
  shutdown (leave the fleet's group, stop the loop, abandon checks in flight, flush the
  producer); a producer that failed for good stops the monitor too, with exit code 2
  (wac.runtime.kafka_fatal).
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from wac.config import KafkaSettings
from wac.errors import WacError, described
from wac.heartbeat.watcher import PushWatcher
from wac.monitor.file_watch import FileWatch
from wac.monitor.gc_pause import GC_PAUSE
from wac.monitor.histogram import Histogram
from wac.monitor.loop import CheckLoop
from wac.monitor.metrics import MonitorCollector
from wac.monitor.publisher import DEFAULT_BUFFER_LIMIT, ResultPublisher
from wac.monitor.reload_child import read_differences, stop_readers
from wac.monitor.scheduler import DEFAULT_MAX_IN_FLIGHT
from wac.probes.policy import DEFAULT_POLICY, ProbePolicy
from wac.result import CheckResult
from wac.runtime.kafka import connect_check, ensure_topic
from wac.runtime.metrics import serve
from wac.runtime.signals import Signals
from wac.targets import Target

if TYPE_CHECKING:
    from wac.monitor.fleet import FleetFeed, FleetOptions

log = logging.getLogger(__name__)

TICK_S = 0.2  # how often the main thread looks at signals and the targets file
WATCH_S = 1.0  # how often the targets file is looked at
RELOAD_SWITCH_INTERVAL_S = 0.0005  # the GIL's switch interval while a reload reads


@dataclass(frozen=True)
class MonitorOptions:
    monitor_name: str
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    buffer_limit: int = DEFAULT_BUFFER_LIMIT
    policy: ProbePolicy = DEFAULT_POLICY
    summary_interval: float = 60.0
    watch: Path | None = None  # the targets file, reloaded when it changes
    stats_file: Path | None = None  # counters and lateness written there at exit
    metrics_port: int | None = None  # Prometheus /metrics on 127.0.0.1:port
    postgres_url: str | None = None  # push:// targets' pings are read there


def run_monitor(
    load_targets: Callable[[], list[Target]],
    kafka: KafkaSettings,
    options: MonitorOptions,
    *,
    on_result: Callable[[CheckResult], None] | None = None,
    initial_targets: list[Target] | None = None,
    fleet: FleetOptions | None = None,
) -> None:
    """Check the targets until SIGTERM or SIGINT, then flush what was produced.

    `load_targets` is called at start and on every reload; it raises ConfigError for a
    bad targets file (at start that ends the monitor, on reload the old targets stay).
    With `fleet`, the targets come from the fleet's partitions of the targets topic.
    """
    targets = initial_targets if initial_targets is not None else load_targets()
    _raise_file_limit(options.max_in_flight)
    connect_check(kafka)
    ensure_topic(kafka)
    if fleet is not None:
        from wac.targets_topic import ensure_targets_topic

        ensure_targets_topic(fleet.targets)
    publisher = ResultPublisher(kafka, buffer_limit=options.buffer_limit)
    ok_count = [0]
    collector: MonitorCollector | None = None

    def sink(result: CheckResult) -> None:
        publisher.publish(result)
        if result.ok:
            ok_count[0] += 1
        if collector is not None:
            collector.record(result)
        if on_result is not None:
            on_result(result)

    loop = CheckLoop(
        sink,
        monitor=options.monitor_name,
        max_in_flight=options.max_in_flight,
        policy=options.policy,
    )
    if options.metrics_port is not None:
        collector = MonitorCollector(loop.scheduler.stats, publisher)
        registry = CollectorRegistry()
        registry.register(collector)
        serve(options.metrics_port, registry)
        log.info("metrics on http://127.0.0.1:%d/metrics", options.metrics_port)
    watcher = _push_watcher(kafka, options, on_result)
    _set_targets(loop, watcher, targets)
    # The file's targets, as a reload compares them.
    reloads = _Reloads(_Routed(loop, watcher), load_targets, {t.id: t for t in targets})
    started = time.monotonic()
    thread = threading.Thread(target=loop.run, name="check-loop", daemon=True)
    watch = FileWatch(options.watch) if options.watch is not None else None
    summary = _Summary(loop, publisher, ok_count)
    feed, feed_thread = _fleet_feed(fleet, _Routed(loop, watcher))
    log.info(
        "monitor %s checking %s, at most %d at once, publishing to %s on %s",
        options.monitor_name,
        f"{len(targets)} target(s)" if fleet is None else "the fleet's targets",
        options.max_in_flight,
        kafka.topic,
        kafka.endpoint,
    )
    with Signals(reloads=True) as signals:
        thread.start()
        if feed_thread is not None:
            feed_thread.start()
        if watcher is not None:
            watcher.start()
        next_watch = next_summary = time.monotonic()
        next_summary += options.summary_interval
        while (
            thread.is_alive()
            and publisher.failed is None
            and (feed_thread is None or feed_thread.is_alive())
        ):
            if signals.stop.wait(TICK_S):
                break
            now = time.monotonic()
            reload = signals.reload.is_set()
            if feed is not None and reload:
                signals.reload.clear()
                log.info("SIGHUP: nothing to reload, the fleet follows the targets topic")
            elif reload or (watch is not None and now >= next_watch and watch.changed()):
                why = "SIGHUP" if reload else f"{options.watch} changed"
                signals.reload.clear()
                reloads.request(why)
            reloads.tick()
            if now >= next_watch:
                next_watch = now + WATCH_S
            if now >= next_summary:
                next_summary = now + options.summary_interval
                log.info("%s", summary.line())
        crashed = not signals.stop.is_set() and publisher.failed is None
        if feed is not None and feed_thread is not None:
            feed.stop()  # leaves the group while the loop still runs to drop the targets
            feed_thread.join(30)
        reloads.stop()
        log.info("stopping: abandoning checks in flight, flushing results to Kafka")
        loop.stop()
        thread.join()
        if watcher is not None:
            watcher.stop()
        undelivered = publisher.close()
    elapsed = time.monotonic() - started
    stats = loop.scheduler.stats
    p = publisher.stats
    log.info(
        "monitor stopped after %.0f s: %d checks, %d produced, %d delivered, %d dropped, "
        "%d undelivered; lateness p99 %s",
        elapsed,
        stats.finished,
        p.produced,
        p.delivered,
        p.dropped,
        undelivered,
        _ms(stats.lateness.percentile_ms(0.99)),
    )
    if options.stats_file is not None:
        write_stats(
            options.stats_file,
            {
                "elapsed_s": elapsed,
                "targets": stats.targets,
                "started": stats.started,
                "finished": stats.finished,
                "skipped": stats.skipped,
                "ok": ok_count[0],
                "produced": p.produced,
                "delivered": p.delivered,
                "dropped": p.dropped,
                "failed": p.failed,
                "undelivered": undelivered,
                "lateness": stats.lateness.to_dict(),
            },
        )

    if publisher.failed is not None:
        raise publisher.failed
    if crashed:
        if feed is not None and feed.failure is not None:
            raise WacError(f"the fleet's consumer stopped: {feed.failure}")
        raise WacError("the check loop stopped unexpectedly (see the error above)")


def _fleet_feed(
    fleet: FleetOptions | None, loop: _Routed
) -> tuple[FleetFeed | None, threading.Thread | None]:
    if fleet is None:
        return None, None
    from wac.monitor.fleet import FleetFeed

    feed = FleetFeed(fleet, loop)
    return feed, threading.Thread(target=feed.run, name="fleet", daemon=True)


def _raise_file_limit(max_in_flight: int) -> None:
    """One socket per check in flight: lift the soft limit on open files (often 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_in_flight + 256  # Kafka, the resolver's threads, the log, ...
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        if new < wanted:
            log.warning(
                "open files are limited to %d: lower --max-in-flight below %d or raise the "
                "limit (ulimit -n)",
                new,
                new - 256,
            )


def _push_watcher(
    kafka: KafkaSettings,
    options: MonitorOptions,
    on_result: Callable[[CheckResult], None] | None,
) -> PushWatcher | None:
    if options.postgres_url is None:
        return None
    return PushWatcher(options.postgres_url, kafka, options.monitor_name, on_result=on_result)


def _set_targets(loop: CheckLoop, watcher: PushWatcher | None, targets: list[Target]) -> None:
    """The push:// targets to the heartbeat watcher, the others to the check loop."""
    pushed = [t for t in targets if t.scheme == "push"]
    loop.set_targets([t for t in targets if t.scheme != "push"] if pushed else targets)
    if watcher is not None:
        watcher.set_targets(pushed)
    elif pushed:
        log.error(
            "%d push:// target(s) not watched: this monitor has no POSTGRES_ENDPOINT, where "
            "their pings are",
            len(pushed),
        )


class _Routed:
    """The fleet's changes, split as `_set_targets` splits a file's targets: push://
    targets to the heartbeat watcher, the others to the check loop. A target whose
    scheme changed leaves the other one."""

    def __init__(self, loop: CheckLoop, watcher: PushWatcher | None) -> None:
        self._loop = loop
        self._watcher = watcher

    def change_targets(
        self, upsert: Iterable[Target] = (), remove: Iterable[str] = (), *, listed: bool = False
    ) -> threading.Event:
        """`listed`: the differences of a reloaded targets file (`CheckLoop.change_listed`)."""
        upsert, remove = list(upsert), list(remove)
        change = self._loop.change_listed if listed else self._loop.change_targets
        pushed = [t for t in upsert if t.scheme == "push"]
        watcher = self._watcher
        if watcher is None:
            if pushed:
                log.error(
                    "%d push:// target(s) not watched: this monitor has no POSTGRES_ENDPOINT, "
                    "where their pings are",
                    len(pushed),
                )
        elif pushed or watcher.watching:  # (a partition of 8,000 http targets: no detour)
            watcher.change_targets(upsert, remove)
        if not pushed:
            return change(upsert, remove)
        checked = [t for t in upsert if t.scheme != "push"]
        return change(checked, [*remove, *(t.id for t in pushed)])


class _Reloads:
    """Reloads of the targets file, one at a time in a thread of their own, so that the
    main thread goes on answering signals and writing the summary while a child process
    reads the file. A reload asked for while one runs follows it (the file may have
    changed since the child read it)."""

    def __init__(
        self,
        routed: _Routed,
        load_targets: Callable[[], list[Target]],
        listed: dict[str, Target],
    ) -> None:
        self._routed = routed
        self._load_targets = load_targets
        self._listed = listed  # only the reload thread changes it, one at a time
        self._thread: threading.Thread | None = None
        self._next: str | None = None

    def _running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def request(self, why: str) -> None:
        if self._running():
            self._next = why
        else:
            self._start(why)

    def tick(self) -> None:
        if self._next is not None and not self._running():
            why, self._next = self._next, None
            self._start(why)

    def _start(self, why: str) -> None:
        args = (self._routed, self._load_targets, self._listed, why)
        self._thread = threading.Thread(target=_reload, args=args, name="reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """No more reloads; one still reading is abandoned (its child stopped)."""
        self._next = None
        if self._thread is not None:
            stop_readers()
            self._thread.join(5)


def _reload(
    routed: _Routed,
    load_targets: Callable[[], list[Target]],
    listed: dict[str, Target],
    why: str,
) -> None:
    # The file is read and compared in a child process (wac.monitor.reload_child): this
    # thread only unpickles what changed, a chunk at a time, while the check loop runs.
    # A short switch interval meanwhile gives the loop the GIL back soon after each chunk.
    # The collector is held off (wac.monitor.gc_pause) while the changes are unpickled
    # (in reload_child) and applied to the list here, not while the child reads: a full
    # collection over 100,000 new targets and the old ones holds the GIL for a second.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, RELOAD_SWITCH_INTERVAL_S))
    try:
        _read_and_apply(routed, load_targets, listed, why)
    finally:
        sys.setswitchinterval(switch_interval)


def _read_and_apply(
    routed: _Routed,
    load_targets: Callable[[], list[Target]],
    listed: dict[str, Target],
    why: str,
) -> None:
    started = time.monotonic()
    try:
        differences = read_differences(load_targets, listed)
    except WacError as exc:  # a bad file (ConfigError), or the child failed (ReloadError)
        log.error("reload (%s) failed, keeping the current targets: %s", why, exc)
        return
    except Exception as exc:  # a bug here must not stop a running monitor
        log.error(
            "reload (%s) failed, keeping the current targets: unexpected %s",
            why,
            described(exc),
        )
        log.debug("reload failure", exc_info=True)
        return
    with GC_PAUSE.held():
        for target_id in differences.remove:
            listed.pop(target_id, None)
        for target in differences.upsert:
            listed[target.id] = target
    log.info(
        "reload (%s): %d target(s) read in %.2f s (%.2f s in all): %d to add or change, "
        "%d to remove",
        why,
        differences.count,
        differences.read_s,
        time.monotonic() - started,
        len(differences.upsert),
        len(differences.remove),
    )
    if differences.upsert or differences.remove:
        routed.change_targets(differences.upsert, differences.remove, listed=True)


class _Summary:
    """The periodic one-line summary: rates since the previous line."""

    def __init__(self, loop: CheckLoop, publisher: ResultPublisher, ok: list[int]) -> None:
        self._loop = loop
        self._publisher = publisher
        self._ok = ok
        self._last = time.monotonic()
        self._last_finished = 0
        self._last_ok = 0

    def line(self) -> str:
        stats = self._loop.scheduler.stats
        now = time.monotonic()
        finished, ok = stats.finished, self._ok[0]
        checks = finished - self._last_finished
        rate = checks / max(now - self._last, 1e-9)
        up = f"{100.0 * (ok - self._last_ok) / checks:.0f}% ok" if checks else "no checks"
        lateness = stats.take_recent_lateness()
        self._last, self._last_finished, self._last_ok = now, finished, ok
        p = self._publisher.stats
        return (
            f"checks {rate:.1f}/s ({up}), lateness p99 {_ms(lateness.percentile_ms(0.99))} "
            f"max {lateness.max_ms:.0f} ms, in flight {stats.in_flight}, targets "
            f"{stats.targets}, skipped {stats.skipped}, kafka waiting "
            f"{self._publisher.waiting}, dropped {p.dropped}"
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def write_stats(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(path)


def merge_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The stats of several worker processes as one (sums, and the merged lateness)."""
    merged: dict[str, Any] = {}
    lateness = Histogram()
    for part in parts:
        for key, value in part.items():
            if key == "lateness":
                lateness.merge(Histogram.from_dict(value))
            elif key == "elapsed_s":
                merged[key] = max(merged.get(key, 0.0), value)
            elif isinstance(value, int | float):
                merged[key] = merged.get(key, 0) + value
    merged["lateness"] = lateness.to_dict()
    merged["workers"] = len(parts)
    return merged
