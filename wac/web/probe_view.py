"""What the target page shows of its probe: the phases it fills and its latest check.

The latest check's `details` are read back from the `checks` table, where any JSON may
sit (a row written by other means than the store): they are read as text of bounded
size and nesting, and each field is kept only when the result model's own `Details`
accepts it (type and bounds), so the page gets the fields it knows, each within the
contract, and never a value JSON cannot carry (NaN, an infinity).
"""

from __future__ import annotations

from typing import Any

import msgspec
import psycopg
from psycopg import sql

from wac.reports.queries import json_time
from wac.result import MAX_NESTING, PROBE_PHASES, SOMETIMES_FILLED, Details, nesting_depth
from wac.rollups.tiers import sane_expiry, sane_ms

ALL_PHASES = ("resolve", "connect", "tls", "processing", "transfer")
# A stored `details` object is a few hundred bytes; more than this is not one the store wrote.
MAX_DETAILS_CHARS = 256 * 1024
DETAIL_FIELDS: tuple[str, ...] = Details.__struct_fields__

_any_json = msgspec.json.Decoder()


def clean_details(raw: str | None) -> dict[str, Any] | None:
    """The fields of stored `details` text that the result model accepts, each checked
    on its own (one bad field costs only itself); None when there is nothing to show."""
    if raw is None or len(raw) > MAX_DETAILS_CHARS:
        return None
    encoded = raw.encode()
    # `details` nests two levels (the object, then `dns_answers`); fields a later version
    # adds may nest a little more, never this much (msgspec recurses once per level).
    if nesting_depth(encoded, stop_above=MAX_NESTING) > MAX_NESTING:
        return None
    try:
        value = _any_json.decode(encoded)
    except (msgspec.MsgspecError, ValueError):  # not JSON; a number no float holds
        return None
    if not isinstance(value, dict):
        return None
    kept: dict[str, Any] = {}
    for name in DETAIL_FIELDS:
        if name not in value or value[name] is None:
            continue
        try:
            checked = msgspec.convert({name: value[name]}, Details)
        except msgspec.ValidationError:
            continue
        kept[name] = getattr(checked, name)
    return kept or None


def phases_shown(probe: str, measured: set[str]) -> list[str]:
    """The phases of this probe the page shows: those it always fills, and those it
    fills only sometimes when a check of the range (or the latest) has them. A probe
    this version does not know shows every phase."""
    phases = PROBE_PHASES.get(probe, ALL_PHASES)
    sometimes = SOMETIMES_FILLED.get(probe, frozenset())
    return [p for p in phases if p not in sometimes or p in measured]


def _column(name: str) -> sql.Identifier:
    return sql.Identifier("c", name)


# The newest check of a target (the index on target, checked_at), values out of the v1
# range read as unknown, as every reader reads them.
_LATEST = sql.SQL(
    "SELECT {checked_at}, c.ok, c.status_code, {rt}, {phases}, c.error_kind, c.error_message, "
    "coalesce(c.probe, 'http'), left(c.details::text, {most}) "
    "FROM checks c WHERE c.target = %s ORDER BY c.checked_at DESC LIMIT 1"
).format(
    checked_at=sane_expiry(_column("checked_at")),
    rt=sane_ms(_column("response_time_ms")),
    phases=sql.SQL(", ").join(sane_ms(_column(f"{p}_ms")) for p in ALL_PHASES),
    most=sql.Literal(MAX_DETAILS_CHARS + 1),
)


def latest_check(conn: psycopg.Connection, target: str) -> dict[str, Any] | None:
    """The target's newest stored check as the target page shows it, or None."""
    row = conn.execute(_LATEST, (target,)).fetchone()
    if row is None:
        return None
    checked_at, ok, status_code, rt, *rest = row
    phase_values = rest[: len(ALL_PHASES)]
    kind, message, probe, details = rest[len(ALL_PHASES) :]
    return {
        "checked_at": json_time(checked_at),
        "ok": ok,
        "probe": probe,
        "status_code": status_code,
        "response_time_ms": rt,
        "phases": dict(zip(ALL_PHASES, phase_values, strict=True)),
        "error": {"kind": kind, "message": message} if kind or message else None,
        "details": clean_details(details),
    }
