"""The `alerts:` section of the targets file: rules, notifiers, maintenance, delivery.

```yaml
alerts:
  defaults:                    # rules for every target
    failure_threshold: 3       # consecutive failed checks (per location) before down
    success_threshold: 2       # consecutive good checks before up again
    quorum: majority           # locations that must agree: majority, all, or a number
    location_expiry: 10m       # a location silent this long (vs. the newest) stops counting
    reminder_interval: 1h      # while down; `off` for none
    cert_expiry_days: [14, 7, 1]
    notify: [ops]              # notifier names; default: every notifier
  targets:                     # per-target rules, keyed by target id (its `name`)
    shop: {failure_threshold: 5, notify: [ops, oncall-mail]}
  notifiers:
    ops: {type: webhook, url: https://hooks.example.com/wac, secret_env: WAC_WEBHOOK_SECRET}
  maintenance:
    - {targets: [shop], start: 2025-06-01T22:00:00Z, end: 2025-06-01T23:00:00Z}
    - {weekly: {days: [sun], start: "02:00", duration: 2h, timezone: Europe/Paris}}
  delivery: {retry_initial: 1s, retry_max: 5m, give_up_after: 24h, workers: 4}
  start_lookback: 15m          # a new alert group starts this far back in the topic
```

Per-target rules live under `alerts.targets` (keyed by target id) rather than in the
target entries, so the targets list keeps the format every monitor reads. Secrets are
never in the file: notifiers name environment variables (`secret_env`, `url_env`,
`password_env`, `routing_key_env`, `api_key_env`, `bot_token_env`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from wac.alerts.maintenance import MaintenanceWindow, parse_windows
from wac.alerts.notifiers import Notifier, build
from wac.errors import ConfigError
from wac.runtime.backoff import delay
from wac.settings.durations import parse_duration
from wac.targets import TargetsFile, parse_targets_file, read_targets_file
from wac.yaml_config import load_yaml_file, reject_unknown_keys, shown, some_of

Quorum = int | Literal["majority", "all"]
_RULE_KEYS = {
    "failure_threshold",
    "success_threshold",
    "quorum",
    "location_expiry",
    "reminder_interval",
    "cert_expiry_days",
    "notify",
}
_ALERT_KEYS = {"defaults", "targets", "notifiers", "maintenance", "delivery", "start_lookback"}
_DELIVERY_KEYS = {"retry_initial", "retry_max", "give_up_after", "workers"}
_OFF = ("off", "none", "never", "false")


@dataclass(frozen=True)
class Rules:
    failure_threshold: int = 3
    success_threshold: int = 2
    quorum: Quorum = "majority"
    location_expiry: float = 600.0
    reminder_interval: float | None = 3600.0
    cert_expiry_days: tuple[int, ...] = (14, 7, 1)
    notify: tuple[str, ...] | None = None  # None: every notifier

    def needed(self, active_locations: int) -> int:
        """How many down locations make the target down, out of those reporting."""
        active = max(1, active_locations)
        if self.quorum == "majority":
            return active // 2 + 1
        if self.quorum == "all":
            return active
        return min(int(self.quorum), active)


@dataclass(frozen=True)
class Delivery:
    retry_initial: float = 1.0
    retry_max: float = 300.0
    give_up_after: float = 86400.0
    workers: int = 4

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt number `attempts + 1` (attempts >= 1)."""
        return delay(attempts, first=self.retry_initial, cap=self.retry_max)


@dataclass(frozen=True)
class AlertConfig:
    defaults: Rules = field(default_factory=Rules)
    per_target: Mapping[str, Rules] = field(default_factory=dict)
    notifiers: Mapping[str, Notifier] = field(default_factory=dict)
    maintenance: tuple[MaintenanceWindow, ...] = ()
    delivery: Delivery = field(default_factory=Delivery)
    start_lookback: float = 900.0
    known_targets: frozenset[str] = frozenset()

    def rules(self, target: str) -> Rules:
        return self.per_target.get(target, self.defaults)

    def notifiers_for(self, target: str) -> list[str]:
        names = self.rules(target).notify
        return sorted(self.notifiers) if names is None else list(names)


def load_alert_config(path: Path | None, env: Mapping[str, str]) -> AlertConfig:
    """The alert configuration of a targets file; defaults (no notifier) without one.

    The file is read by the same loader as the monitor's (wac.targets.read_targets_file),
    with the same refusals: not UTF-8, duplicate keys, alias bombs, exotic tags.
    """
    if path is None:
        return AlertConfig()
    targets_file = read_targets_file(path, default_timeout=1.0, require_targets=False)
    return alert_config_of(targets_file, env)


def has_alerts_section(path: Path) -> bool:
    """True when the targets file has an `alerts:` section (so `wac up` runs `wac alert`)."""
    try:
        document = load_yaml_file(path)
    except ConfigError:
        return False
    return isinstance(document, Mapping) and document.get("alerts") is not None


def parse_alert_config(document: object, *, source: str, env: Mapping[str, str]) -> AlertConfig:
    """The alert configuration of a parsed targets-file document."""
    if not isinstance(document, Mapping):
        raise ConfigError(f"{source}: expected a mapping with `targets:` and `alerts:`")
    # The same checks the monitor makes, so a file wac alert accepts, monitors accept.
    targets_file = parse_targets_file(
        document, source=source, default_timeout=1.0, require_targets=False
    )
    return alert_config_of(targets_file, env)


def alert_config_of(targets_file: TargetsFile, env: Mapping[str, str]) -> AlertConfig:
    """The `alerts:` section of a targets file read once, checked against its targets."""
    source = targets_file.source
    known = targets_file.target_ids
    section = targets_file.alerts
    if section is None:
        return AlertConfig(known_targets=known)
    where = f"{source}: alerts"
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where}: must be a mapping (defaults, targets, notifiers, ...)")
    reject_unknown_keys(section, _ALERT_KEYS, where)

    notifiers_raw = section.get("notifiers") or {}
    if not isinstance(notifiers_raw, Mapping):
        raise ConfigError(f"{where}.notifiers: must be a mapping of name: {{type: ...}}")
    notifiers = {
        str(name): build(str(name), spec, env, f"{where}.notifiers.{_label(name)}")
        for name, spec in notifiers_raw.items()
    }

    defaults = _parse_rules(section.get("defaults") or {}, Rules(), f"{where}.defaults")
    targets_raw = section.get("targets") or {}
    if not isinstance(targets_raw, Mapping):
        raise ConfigError(f"{where}.targets: must be a mapping of target id: rules")
    per_target = {}
    for name, raw in targets_raw.items():
        tw = f"{where}.targets.{_label(name)}"
        if known and name not in known:
            raise ConfigError(
                f"{tw}: no target has the id {shown(name)} in this file; "
                f"known ids: {some_of(known)}"
            )
        per_target[str(name)] = _parse_rules(raw or {}, defaults, tw)
    for rules_where, rules in [(f"{where}.defaults", defaults)] + [
        (f"{where}.targets.{n}", r) for n, r in per_target.items()
    ]:
        for name in rules.notify or ():
            if name not in notifiers:
                raise ConfigError(
                    f"{rules_where}: notify names {shown(name)}, which is not under "
                    "alerts.notifiers "
                    f"(defined: {', '.join(sorted(notifiers)) or 'none'})"
                )
    maintenance = parse_windows(section.get("maintenance"), f"{where}.maintenance")
    for window in maintenance:
        for target in window.targets or ():
            if known and target not in known:
                raise ConfigError(
                    f"{where}.maintenance {window.name}: no target has the id {shown(target)}"
                )
    return AlertConfig(
        defaults=defaults,
        per_target=per_target,
        notifiers=notifiers,
        maintenance=maintenance,
        delivery=_parse_delivery(section.get("delivery") or {}, f"{where}.delivery"),
        start_lookback=parse_duration(section.get("start_lookback", 900), where, "start_lookback"),
        known_targets=known,
    )


def _parse_rules(raw: object, base: Rules, where: str) -> Rules:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a mapping of rules ({', '.join(sorted(_RULE_KEYS))})")
    reject_unknown_keys(raw, _RULE_KEYS, where)
    rules = base
    if "failure_threshold" in raw:
        rules = replace(
            rules,
            failure_threshold=_positive_int(raw["failure_threshold"], where, "failure_threshold"),
        )
    if "success_threshold" in raw:
        rules = replace(
            rules,
            success_threshold=_positive_int(raw["success_threshold"], where, "success_threshold"),
        )
    if "quorum" in raw:
        rules = replace(rules, quorum=_parse_quorum(raw["quorum"], where))
    if "location_expiry" in raw:
        rules = replace(
            rules, location_expiry=parse_duration(raw["location_expiry"], where, "location_expiry")
        )
    if "reminder_interval" in raw:
        value = raw["reminder_interval"]
        if value is False or value is None or (isinstance(value, str) and value.lower() in _OFF):
            rules = replace(rules, reminder_interval=None)
        else:
            rules = replace(
                rules, reminder_interval=parse_duration(value, where, "reminder_interval")
            )
    if "cert_expiry_days" in raw:
        rules = replace(rules, cert_expiry_days=_parse_days(raw["cert_expiry_days"], where))
    if "notify" in raw:
        notify = raw["notify"]
        if isinstance(notify, str):
            notify = [notify]
        if notify is None:
            notify = []
        if not isinstance(notify, list) or not all(isinstance(n, str) for n in notify):
            raise ConfigError(f"{where}: notify must be a list of notifier names ([] for none)")
        rules = replace(rules, notify=tuple(notify))
    return rules


def _positive_int(value: object, where: str, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{where}: {key} must be a whole number >= 1, got {shown(value)}")
    return value


def _parse_quorum(value: object, where: str) -> Quorum:
    if value == "majority" or value == "all":
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ConfigError(
        f"{where}: quorum must be majority, all, or a number of locations >= 1, got {shown(value)}"
    )


def _parse_days(value: object, where: str) -> tuple[int, ...]:
    if value is None or value is False or value == []:
        return ()
    values = value if isinstance(value, list) else [value]
    days = []
    for day in values:
        if not isinstance(day, int) or isinstance(day, bool) or day < 1:
            raise ConfigError(
                f"{where}: cert_expiry_days must be whole days >= 1 (e.g. [14, 7, 1]), "
                f"got {shown(day)}"
            )
        days.append(day)
    return tuple(sorted(set(days), reverse=True))


def _parse_delivery(raw: object, where: str) -> Delivery:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a mapping ({', '.join(sorted(_DELIVERY_KEYS))})")
    reject_unknown_keys(raw, _DELIVERY_KEYS, where)
    durations = {
        key: parse_duration(raw[key], where, key)
        for key in ("retry_initial", "retry_max", "give_up_after")
        if key in raw
    }
    delivery = Delivery(
        retry_initial=durations.get("retry_initial", Delivery.retry_initial),
        retry_max=durations.get("retry_max", Delivery.retry_max),
        give_up_after=durations.get("give_up_after", Delivery.give_up_after),
    )
    if "workers" in raw:
        delivery = replace(delivery, workers=_positive_int(raw["workers"], where, "workers"))
    if delivery.retry_max < delivery.retry_initial:
        raise ConfigError(f"{where}: retry_max must be at least retry_initial")
    return delivery


def _label(key: object) -> str:
    """A key of the file as a message names it: as written, unless too long to read."""
    text = str(key)
    return text if len(text) <= 60 and text.isprintable() else shown(key)
