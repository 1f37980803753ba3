"""Maintenance windows: one-off (start, end) or weekly (days, time, duration, zone).

During a window that covers a target, no notification about it is sent; the state
machine, incidents and events carry on (see wac/alerts/state.py `plan_notifications`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wac.errors import ConfigError
from wac.settings.durations import parse_duration
from wac.yaml_config import shown

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_ONE_OFF_KEYS = {"name", "targets", "start", "end"}
_WEEKLY_KEYS = {"name", "targets", "weekly"}
_WEEKLY_INNER = {"days", "start", "duration", "timezone"}


@dataclass(frozen=True)
class OneOffWindow:
    start: datetime
    end: datetime

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class WeeklyWindow:
    days: frozenset[int]  # 0 = Monday
    start: time
    duration: timedelta
    zone: ZoneInfo

    def covers(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        # A window may have started on one of the previous days (durations up to 7 days).
        for back in range(8):
            day: date = local.date() - timedelta(days=back)
            if day.weekday() not in self.days:
                continue
            begin = datetime.combine(day, self.start, tzinfo=self.zone)
            if begin <= local < begin + self.duration:
                return True
        return False


@dataclass(frozen=True)
class MaintenanceWindow:
    name: str
    targets: frozenset[str] | None  # None: every target
    window: OneOffWindow | WeeklyWindow

    def covers(self, target: str, at: datetime) -> bool:
        if self.targets is not None and target not in self.targets:
            return False
        return self.window.covers(at)


def in_maintenance(windows: tuple[MaintenanceWindow, ...], target: str, at: datetime) -> bool:
    return any(w.covers(target, at) for w in windows)


def parse_windows(raw: object, where: str) -> tuple[MaintenanceWindow, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: must be a list of windows (start/end, or weekly)")
    return tuple(_parse_window(entry, f"{where} #{i}") for i, entry in enumerate(raw, start=1))


def _parse_window(entry: object, where: str) -> MaintenanceWindow:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a mapping with start/end, or weekly")
    name = entry.get("name", where.rsplit(" ", 1)[-1])
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: name must be a non-empty string")
    where = f"{where} ({name})" if "name" in entry else where
    targets = _parse_targets(entry.get("targets"), where)
    if "weekly" in entry:
        _reject_unknown(entry, _WEEKLY_KEYS, where)
        return MaintenanceWindow(name, targets, _parse_weekly(entry["weekly"], where))
    _reject_unknown(entry, _ONE_OFF_KEYS, where)
    if "start" not in entry or "end" not in entry:
        raise ConfigError(
            f"{where}: a one-off window needs start and end (e.g. 2025-06-01T22:00:00Z); "
            "a recurring one needs weekly: {days, start, duration}"
        )
    start = _parse_instant(entry["start"], where, "start")
    end = _parse_instant(entry["end"], where, "end")
    if end <= start:
        raise ConfigError(f"{where}: end must be after start")
    return MaintenanceWindow(name, targets, OneOffWindow(start, end))


def _parse_targets(raw: object, where: str) -> frozenset[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(t, str) and t for t in raw):
        raise ConfigError(f"{where}: targets must be a list of target ids (names)")
    return frozenset(raw)


def _parse_instant(raw: object, where: str, field: str) -> datetime:
    if isinstance(raw, datetime):  # YAML timestamps arrive parsed
        value = raw
    elif isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(
                f"{where}: {field} {shown(raw)} is not a date-time: use e.g. 2025-06-01T22:00:00Z"
            ) from None
    else:
        raise ConfigError(f"{where}: {field} must be a date-time such as 2025-06-01T22:00:00Z")
    if value.tzinfo is None:
        raise ConfigError(
            f"{where}: {field} {shown(raw)} has no time zone: add Z (UTC) or an offset like +02:00"
        )
    return value.astimezone(UTC)


def _parse_weekly(raw: object, where: str) -> WeeklyWindow:
    where = f"{where}: weekly"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected {{days: [sun], start: '02:00', duration: 2h}}")
    _reject_unknown(raw, _WEEKLY_INNER, where)
    days_raw = raw.get("days")
    days_list = days_raw if isinstance(days_raw, list) else [days_raw]
    days = set()
    for day in days_list:
        key = str(day).strip().lower()[:3] if isinstance(day, str) else ""
        if key not in WEEKDAYS:
            raise ConfigError(f"{where}: days: {shown(day)} is not a weekday (mon, tue, ..., sun)")
        days.add(WEEKDAYS.index(key))
    start_raw = raw.get("start")
    if isinstance(start_raw, int) and not isinstance(start_raw, bool):
        # YAML 1.1 reads an unquoted 02:00 as a sexagesimal number of minutes.
        start_raw = f"{start_raw // 60:02d}:{start_raw % 60:02d}"
    if not isinstance(start_raw, str) or not (m := _CLOCK.match(start_raw.strip())):
        raise ConfigError(
            f"{where}: start {shown(start_raw)} must be a time of day such as '02:00'"
        )
    if "duration" not in raw:
        raise ConfigError(f"{where}: duration is required (e.g. 2h)")
    duration = parse_duration(raw["duration"], where, "duration")
    if duration > 7 * 86400:
        raise ConfigError(f"{where}: duration must be at most 7 days")
    zone_name = raw.get("timezone", "UTC")
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{where}: timezone {shown(zone_name)} is not a known zone (e.g. UTC, Europe/Paris)"
        ) from None
    return WeeklyWindow(
        days=frozenset(days),
        start=time(int(m.group(1)), int(m.group(2))),
        duration=timedelta(seconds=duration),
        zone=zone,
    )


def _reject_unknown(mapping: Mapping[Any, Any], allowed: set[str], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {shown(key)}; allowed keys: {', '.join(sorted(allowed))}"
            )
