"""What `wac targets apply` changes: the file's targets against the topic's definitions.

Pure: no Kafka. A target is changed when its record would differ (the same bytes mean the
same definition, since the encoding is stable); applying the same file twice plans
nothing. A target's paused state is not in the file: apply keeps it as the topic has it
(a new target starts unpaused).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from wac.targets.definition import Definition, definition_to_json, encode_definition
from wac.targets.target import Target


@dataclass(frozen=True)
class Plan:
    added: list[Definition] = field(default_factory=list)
    changed: list[tuple[Definition, list[str]]] = field(default_factory=list)  # fields changed
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # in the topic, not the file, not pruned

    @property
    def changes(self) -> dict[str, Definition | None]:
        """What to publish: definitions, and tombstones (None) for the removed ids."""
        found: dict[str, Definition | None] = {d.id: d for d in self.added}
        found.update((d.id, d) for d, _ in self.changed)
        found.update(dict.fromkeys(self.removed))
        return found


def plan_apply(
    current: Mapping[str, Definition], targets: Iterable[Target], *, prune: bool
) -> Plan:
    plan = Plan()
    wanted: set[str] = set()
    for target in targets:
        wanted.add(target.id)
        before = current.get(target.id)
        definition = Definition(target, paused=before.paused if before is not None else False)
        if before is None:
            plan.added.append(definition)
        elif encode_definition(before) != encode_definition(definition):
            plan.changed.append((definition, changed_fields(before, definition)))
    for target_id in sorted(set(current) - wanted):
        (plan.removed if prune else plan.kept).append(target_id)
    return plan


def changed_fields(before: Definition, after: Definition) -> list[str]:
    old, new = definition_to_json(before), definition_to_json(after)
    return [key for key in new if old.get(key) != new[key]]
