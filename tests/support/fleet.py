"""Fleet scenarios: managed targets published, fleet monitors run, their checks counted.

Checks are counted from the results topic, as every other reader sees them: each result
says which target, from which location (`monitor`) and when (`checked_at`, the start of
the check). A slot is a point of the target's wall-clock grid (wac.monitor.scheduler):
`offset + k * interval` seconds since the epoch.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from tests.support.kafka_read import read_topic
from wac.config import load_settings
from wac.monitor.scheduler import stable_fraction
from wac.runtime.kafka import client_config, ensure_topic
from wac.targets import Target
from wac.targets.definition import Definition
from wac.targets_topic import ensure_targets_topic, publish_definitions, targets_topic_settings


def fleet_env(env: dict[str, str], partitions: int = 12) -> dict[str, str]:
    """`env` with a targets topic of its own (the results topic and group are env's)."""
    return {
        **env,
        "KAFKA_TARGETS_TOPIC": f"{env['KAFKA_TOPIC']}-targets-{uuid.uuid4().hex[:6]}",
        "WAC_TARGETS_PARTITIONS": str(partitions),
    }


def publish(env: dict[str, str], changes: dict[str, Definition | None]) -> None:
    settings = targets_topic_settings(env)
    ensure_targets_topic(settings)
    items = list(changes.items())
    for start in range(0, len(items), 20_000):  # within the producer's queue
        publish_definitions(settings, dict(items[start : start + 20_000]), timeout=60)


def define(targets: Iterable[Target], *, paused: bool = False) -> dict[str, Definition | None]:
    return {t.id: Definition(t, paused=paused) for t in targets}


@dataclass
class Member:
    """One `wac monitor --fleet` process, its log in a file (read while it runs)."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assigned(self) -> list[int] | None:
        """Its partitions, as its latest assignment line says; None before the first."""
        found = re.findall(r"fleet: (?:assigned|partition\(s\)).*?; now \[([\d, ]*)\]", self.log())
        if not found:
            return None
        return [int(p) for p in found[-1].replace(",", " ").split()]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def start_member(
    env: dict[str, str], location: str, log_dir: Path, *extra: str, name: str = "m"
) -> Member:
    log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "wac", "monitor", "--fleet", "--location", location, *extra],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    return Member(process, log_path)


@dataclass(frozen=True)
class Check:
    target: str
    location: str
    at: float  # checked_at, seconds since the epoch


def checks(env: dict[str, str]) -> list[Check]:
    found = []
    for _, value in read_topic(env, timeout=30):
        result = json.loads(value)
        at = datetime.fromisoformat(result["checked_at"].replace("Z", "+00:00")).timestamp()
        found.append(Check(result["target"], result["monitor"], at))
    return found


@dataclass
class Figures:
    worst_gap: float = 0.0  # between the starts of two checks (or a window's edge)
    worst_target: str = ""
    # The same on the grid: slots between two checks times the interval. A check starts a
    # few milliseconds after its slot, so the start-to-start gap can exceed the slots'.
    worst_slot_gap: float = 0.0
    double_checks: int = 0  # checks beyond the first of one target, location and slot
    per_target: dict[str, int] = field(default_factory=dict)


def figures(
    found: Sequence[Check], interval: float, since: float, until: float, location: str
) -> Figures:
    """Within [since, until]: each target's largest gap between two checks (counting the
    window's edges), and the checks that fell in a slot already checked."""
    times: dict[str, list[float]] = defaultdict(list)
    slots: Counter[tuple[str, int]] = Counter()
    in_window: dict[str, list[int]] = defaultdict(list)
    for check in found:
        if check.location != location:
            continue
        offset = stable_fraction(check.target) * interval
        slot = round((check.at - offset) / interval)
        slots[(check.target, slot)] += 1
        if since <= check.at <= until:
            times[check.target].append(check.at)
            in_window[check.target].append(slot)
    result = Figures(double_checks=sum(n - 1 for n in slots.values() if n > 1))
    for numbers in in_window.values():
        numbers.sort()
        steps = [b - a for a, b in itertools.pairwise(numbers)]
        result.worst_slot_gap = max(result.worst_slot_gap, max(steps, default=0) * interval)
    for target, ats in times.items():
        ats.sort()
        edges = [since, *ats, until]
        # A target unchecked until the window's end has a gap to the end.
        gap = max(b - a for a, b in itertools.pairwise(edges))
        if gap > result.worst_gap:
            result.worst_gap, result.worst_target = gap, target
        result.per_target[target] = len(ats)
    return result


class ResultsTail:
    """The results published from now on (a consumer placed at the topic's end)."""

    def __init__(self, env: dict[str, str]) -> None:
        kafka = load_settings(env).kafka()
        ensure_topic(kafka)
        self._consumer = Consumer(client_config(kafka, **{"group.id": f"tail-{uuid.uuid4().hex}"}))
        metadata = self._consumer.list_topics(kafka.topic, timeout=20)
        partitions = [
            TopicPartition(kafka.topic, p, OFFSET_END)
            for p in metadata.topics[kafka.topic].partitions
        ]
        self._consumer.assign(partitions)
        # Resolve the end offsets now, before anything is published.
        for tp in partitions:
            self._consumer.get_watermark_offsets(tp, timeout=10)
        self._consumer.poll(0.5)

    def first(self, timeout: float) -> float | None:
        """When the first new result arrived (time.time()), or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._consumer.poll(0.1)
            if message is not None and message.error() is None:
                return time.time()
        return None

    def close(self) -> None:
        self._consumer.close()


def summary_lateness(log: str) -> list[tuple[float, float]]:
    """(p99 ms, max ms) of each periodic summary line of a monitor's log."""
    found = re.findall(r"lateness p99 (\d+|-)(?: ms)? max (\d+) ms", log)
    return [(float(p99) if p99 != "-" else 0.0, float(top)) for p99, top in found]
