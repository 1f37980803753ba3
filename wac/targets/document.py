"""The targets file: read once into a typed `TargetsFile`.

```yaml
defaults: {interval: 10s, timeout: 1s}   # optional
targets: [{url: https://example.com/, name: example}, ...]
alerts: {...}                            # optional, read by wac.alerts.config
status_pages: [...]                      # optional, read by wac.pages.config
```

The YAML is parsed once (wac.yaml_config); the targets and defaults are checked here,
and the `alerts:` and `status_pages:` sections are handed, as parsed, to their own typed
readers, which check them against these targets. Every mistake is a ConfigError naming
the file, the target and the field.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wac.errors import ConfigError
from wac.targets.entry import entry_where, parse_fields, target_from_entry, url_only_target
from wac.targets.fields import DEFAULT_PARSERS, field_defaults
from wac.targets.target import Target
from wac.yaml_config import collector_paused, load_yaml_file, reject_unknown_keys, shown

TOP_KEYS = {"defaults", "targets", "alerts", "status_pages"}


@dataclass(frozen=True)
class TargetsFile:
    """A targets file, its targets checked; its other sections as parsed (None: absent)."""

    source: str  # the file's path, as messages name it
    targets: list[Target] = field(default_factory=list)
    alerts: object | None = None
    status_pages: object | None = None

    @property
    def target_ids(self) -> frozenset[str]:
        return frozenset(t.id for t in self.targets)


def read_targets_file(
    path: Path, *, default_timeout: float, require_targets: bool = True
) -> TargetsFile:
    """Read and check a targets file (YAML parsed once); ConfigError naming what is wrong."""
    with collector_paused():
        document = load_yaml_file(path)
        return parse_targets_file(
            document,
            source=str(path),
            default_timeout=default_timeout,
            require_targets=require_targets,
        )


def parse_targets_file(
    document: object, *, source: str, default_timeout: float, require_targets: bool = True
) -> TargetsFile:
    """The parsed document of a targets file. `require_targets=False`: a file of only an
    `alerts:` section is accepted (its targets list, when present, is still checked)."""
    if not isinstance(document, Mapping):
        raise ConfigError(f"{source}: expected a mapping with a `targets:` list at the top level")
    reject_unknown_keys(document, TOP_KEYS, source)
    targets: list[Target] = []
    if require_targets or "targets" in document:
        targets = _parse_targets(document, source, default_timeout)
    return TargetsFile(
        source=source,
        targets=targets,
        alerts=document.get("alerts"),
        status_pages=document.get("status_pages"),
    )


def _parse_targets(
    document: Mapping[Any, Any], source: str, default_timeout: float
) -> list[Target]:
    defaults = document.get("defaults")
    if defaults is None:
        defaults = {}
    if not isinstance(defaults, Mapping):
        raise ConfigError(f"{source}: defaults must be a mapping")
    base = field_defaults(default_timeout)
    base.update(parse_fields(defaults, DEFAULT_PARSERS, f"{source}: defaults"))
    entries = document.get("targets")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{source}: `targets:` must be a non-empty list of targets")
    targets: list[Target] = []
    seen: dict[str, int] = {}  # id -> the number of its entry
    prefix = f"{source}: target"
    made: dict[str, dict[str, Any]] = {}  # url_only_target's models

    def where_is(number: int) -> str:
        return entry_where(entries[number - 1], prefix, number)

    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{prefix} #{index}: expected a mapping with at least `url:`")
        target = url_only_target(
            entry, functools.partial(where_is, index), base, made
        ) or target_from_entry(entry, where_is(index), base)
        if target.id in seen:
            raise ConfigError(
                f"{where_is(index)}: duplicate target id {shown(target.id)} (also "
                f"{where_is(seen[target.id])}); give each a distinct `name:`"
            )
        seen[target.id] = index
        targets.append(target)
    _refuse_shared_tokens(targets, source)
    return targets


def _refuse_shared_tokens(targets: list[Target], source: str) -> None:
    """Each push target has its own token: a ping names one target."""
    owner: dict[str, str] = {}
    for target in targets:
        if target.scheme != "push":
            continue
        # Unread (a managed definition's), the variable's name stands for the token.
        token = getattr(target.probe_options, "token", None)
        if token is None:
            token = f"${getattr(target.probe_options, 'token_env', '')}"
        if token in owner:
            raise ConfigError(
                f"{source}: target {shown(target.id)}: {target.id} uses the same token as "
                f"{owner[token]} (token_env); give each push target its own token"
            )
        owner[token] = target.id


def parse_targets_document(
    document: object, *, source: str, default_timeout: float
) -> list[Target]:
    """The targets of a parsed targets file."""
    return parse_targets_file(document, source=source, default_timeout=default_timeout).targets


def load_targets_file(path: Path, *, default_timeout: float) -> list[Target]:
    """Read and check a targets file; raises ConfigError naming the target and field."""
    return read_targets_file(path, default_timeout=default_timeout).targets
