"""The targets of a fleet monitor's partitions, and what the check loop must change.

Pure bookkeeping, without Kafka (wac.monitor.fleet does the I/O): the consumer says which
partitions it was assigned and which it lost, hands over each record it reads, and says
when a partition was read to its end. Each call answers with the changes for the check
loop: targets to add or update, ids to remove.

A partition's targets reach the loop only once the partition was read to its end: until
then a later record may still delete, pause or change a target, and a target must not be
checked from a definition that is no longer current. While reading to the end only each
key's latest record is kept, decoded as it arrives (a definition made from a model of its
shape, wac.targets.definition_models, costs about 10 µs and takes less memory than the
record's bytes, which 100,000 targets would hold by the tens of megabytes); a refusal is
kept as its reason and reported at the end, for the latest record of its key only. After
that, each record is a change of its own. A paused target is kept out of the loop; a tombstone
removes the target.

A record that is not a valid definition counts as no definition for its key, as in every
reader of the topic (the CLI, the store's mirror): it is reported with one log line naming
the partition, offset, key and reason, and the key's target leaves the loop, followed live
or read from the start alike. That is what the log says once compaction has removed the
key's earlier records, so the fleet checks the same targets before and after compaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from wac.targets import Target
from wac.targets.definition import BadDefinition, Definition
from wac.yaml_config import shown

log = logging.getLogger(__name__)

Decode = Callable[[bytes | None, bytes | None], Definition | None]
# A record decoded: its definition, None (a tombstone) or why it was refused.
Outcome = Definition | None | str


@dataclass
class Changes:
    """What the check loop must apply: targets to add or update, ids to remove."""

    upsert: list[Target] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.upsert or self.remove)

    def extend(self, other: Changes) -> None:
        self.upsert.extend(other.upsert)
        self.remove.extend(other.remove)


@dataclass
class _Partition:
    loaded: bool = False  # read to its end once: its targets are in the loop
    targets: dict[str, Target] = field(default_factory=dict)  # the unpaused ones
    # Until loaded: each key's latest record, (offset, what it decoded to), applied at the end.
    latest: dict[bytes | None, tuple[int, Outcome]] = field(default_factory=dict)
    skipped: int = 0  # records that were not valid definitions


class FleetTargets:
    """The definitions of the assigned partitions; each method returns the loop's changes."""

    def __init__(self, topic: str, decode: Decode) -> None:
        self._topic = topic
        self._decode = decode
        self._partitions: dict[int, _Partition] = {}

    @property
    def assigned(self) -> list[int]:
        return sorted(self._partitions)

    @property
    def loading(self) -> list[int]:
        """Assigned partitions not yet read to their end."""
        return sorted(p for p, state in self._partitions.items() if not state.loaded)

    @property
    def target_count(self) -> int:
        return sum(len(state.targets) for state in self._partitions.values())

    def assign(self, partition: int) -> None:
        """A partition was assigned: it is read from its start, its targets kept for now."""
        self._partitions[partition] = _Partition()

    def revoke(self, partition: int) -> Changes:
        """A partition was revoked or lost: its targets leave the loop."""
        state = self._partitions.pop(partition, None)
        if state is None or not state.loaded:
            return Changes()
        return Changes(remove=list(state.targets))

    def end_reached(self, partition: int) -> Changes:
        """The partition was read to its end: on the first time, its targets start."""
        state = self._partitions.get(partition)
        if state is None or state.loaded:
            return Changes()
        state.loaded = True
        latest, state.latest = state.latest, {}
        for key, (offset, outcome) in latest.items():
            self._take(state, partition, offset, key, outcome)
        return Changes(upsert=list(state.targets.values()))

    def record(
        self, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> Changes:
        """One record of the partition: a definition, a tombstone, or something skipped."""
        state = self._partitions.get(partition)
        if state is None:
            return Changes()  # from before a revoke: no longer ours
        outcome = self._decoded(key, value)
        if not state.loaded:
            state.latest.pop(key, None)  # keeps the dict in the order of the latest records
            state.latest[key] = (offset, outcome)
            return Changes()
        return self._take(state, partition, offset, key, outcome)

    def _decoded(self, key: bytes | None, value: bytes | None) -> Outcome:
        try:
            return self._decode(key, value)
        except BadDefinition as exc:
            return str(exc)
        except Exception as exc:  # a bug in decoding must not stop the monitor
            log.debug("decoding failure", exc_info=True)
            return f"unexpected {type(exc).__name__}: {exc}"

    def _take(
        self, state: _Partition, partition: int, offset: int, key: bytes | None, outcome: Outcome
    ) -> Changes:
        """Apply one decoded record to the partition's targets; the loop's changes once
        loaded."""
        if isinstance(outcome, str):
            self._skip(state, partition, offset, key, outcome)
            definition = None  # no definition for its key
        else:
            definition = outcome
        if definition is None:
            target_id = _key_text(key)
            gone = state.targets.pop(target_id, None)
            return Changes(remove=[target_id]) if gone is not None and state.loaded else Changes()
        target = definition.target
        if definition.paused:
            gone = state.targets.pop(target.id, None)
            return Changes(remove=[target.id]) if gone is not None and state.loaded else Changes()
        state.targets[target.id] = target
        return Changes(upsert=[target]) if state.loaded else Changes()

    def _skip(
        self, state: _Partition, partition: int, offset: int, key: bytes | None, why: str
    ) -> None:
        state.skipped += 1
        log.error(
            "targets topic %s partition %d offset %d (key %s): skipped, not a valid "
            "definition: %s; the target is not checked until a valid definition follows. "
            "Fix it with `wac targets apply` or the targets API",
            self._topic,
            partition,
            offset,
            shown(_key_text(key)),
            " ".join(why.split())[:500],
        )


def _key_text(key: bytes | None) -> str:
    return "" if key is None else key.decode("utf-8", "replace")
