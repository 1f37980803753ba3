"""Badges: what `/badge/TARGET/...` asks for, what it says, and its SVG and shields.io JSON.

Paths (after `/badge/`), each also with `.json` for shields.io's endpoint badge:

- `TARGET/status.svg`: up, down, or unknown (no checks);
- `TARGET/uptime/WINDOW.svg`: the share of checks that were up over the window;
- `TARGET/response/WINDOW.svg`: the average response time over the window;
- `TARGET/certificate.svg`: days until the certificate seen by the latest checks expires.

WINDOW is a whole number of hours, days or weeks (`24h`, `7d`, `30d`, `2w`), at most
365 days. A target id may hold `/` and `.`: the kind is read from the end of the path.

Colours (shields.io's names; the SVG uses their usual hex values):

| badge | brightgreen | green | yellow | orange | red | lightgrey |
|---|---|---|---|---|---|---|
| status | up | | | | down | no checks |
| uptime | ≥ 99.9 % | ≥ 99 % | ≥ 97 % | ≥ 95 % | below | no checks in the window |
| response | < 300 ms | < 500 ms | < 1 s | < 2 s | slower | no response times |
| certificate | ≥ 30 days | ≥ 14 days | ≥ 7 days | | under 7 days, expired | none seen |
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from wac.pages.read import BadgeFacts

KINDS = ("status", "uptime", "response", "certificate")
WINDOWED = ("uptime", "response")
FORMATS = ("svg", "json")
MAX_WINDOW = timedelta(days=365)
_WINDOW = re.compile(r"([1-9][0-9]{0,3})([hdw])")
_WINDOW_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
COLORS = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "lightgrey": "#9f9f9f",
}
UPTIME_THRESHOLDS = ((99.9, "brightgreen"), (99.0, "green"), (97.0, "yellow"), (95.0, "orange"))
RESPONSE_THRESHOLDS_MS = (
    (300.0, "brightgreen"),
    (500.0, "green"),
    (1000.0, "yellow"),
    (2000.0, "orange"),
)
CERT_THRESHOLDS_DAYS = ((30.0, "brightgreen"), (14.0, "green"), (7.0, "yellow"))


class BadBadge(ValueError):
    """A badge path that names no badge; the message says what a good one looks like."""


@dataclass(frozen=True)
class BadgeRequest:
    target: str
    kind: str
    window_text: str | None  # as written (`30d`), for the label
    window: timedelta | None
    format: str


def parse_window(text: str) -> timedelta:
    """`24h`, `7d`, `30d`, `2w`: a whole number of hours, days or weeks, 1 h to 365 days."""
    match = _WINDOW.fullmatch(text)
    if match is None:
        raise BadBadge(
            "the window must be a whole number of hours, days or weeks, such as 24h, 7d, 30d or 2w"
        )
    window = int(match.group(1)) * _WINDOW_UNITS[match.group(2)]
    if window > MAX_WINDOW:
        raise BadBadge("the window is at most 365 days (365d, 52w, 8760h)")
    return window


def parse_badge_path(rest: str) -> BadgeRequest:
    """The badge asked for by the path after `/badge/` (percent-decoded)."""
    stem, dot, fmt = rest.rpartition(".")
    if not dot or fmt not in FORMATS:
        raise BadBadge(
            "a badge path is /badge/TARGET/status.svg, /badge/TARGET/uptime/30d.svg, "
            "/badge/TARGET/response/24h.svg or /badge/TARGET/certificate.svg (or .json)"
        )
    head, slash, last = stem.rpartition("/")
    if slash and last in ("status", "certificate"):
        target, kind, window_text = head, last, None
    else:
        target, slash2, kind = head.rpartition("/")
        if not (slash and slash2) or kind not in WINDOWED:
            raise BadBadge(
                "no such badge: use status, uptime/WINDOW, response/WINDOW or certificate, "
                "e.g. /badge/TARGET/uptime/30d.svg"
            )
        window_text = last
    if not target:
        raise BadBadge("the badge path names no target: /badge/TARGET/status.svg")
    window = parse_window(window_text) if window_text is not None else None
    return BadgeRequest(target, kind, window_text, window, fmt)


@dataclass(frozen=True)
class Badge:
    label: str
    message: str
    color: str  # a key of COLORS

    def to_shields(self, cache_seconds: int) -> dict[str, Any]:
        return {
            "schemaVersion": 1,
            "label": self.label,
            "message": self.message,
            "color": self.color,
            "cacheSeconds": cache_seconds,
        }


def badge_for(request: BadgeRequest, facts: BadgeFacts) -> Badge:
    if request.kind == "status":
        if facts.status is None:
            return Badge("status", "unknown", "lightgrey")
        return Badge("status", facts.status, "brightgreen" if facts.status == "up" else "red")
    if request.kind == "certificate":
        return _certificate(facts.cert_days_left)
    label = f"{request.kind} {request.window_text}"
    agg = facts.window
    if request.kind == "uptime":
        pct = agg.uptime_pct if agg is not None else None
        if pct is None:
            return Badge(label, "no data", "lightgrey")
        return Badge(label, format_percent(pct), _threshold(pct, UPTIME_THRESHOLDS, at_least=True))
    avg = agg.avg_ms if agg is not None else None
    if avg is None:
        return Badge(label, "no data", "lightgrey")
    return Badge(label, format_ms(avg), _threshold(avg, RESPONSE_THRESHOLDS_MS, at_least=False))


def _certificate(days: float | None) -> Badge:
    if days is None:
        return Badge("certificate", "unknown", "lightgrey")
    if days <= 0:
        return Badge("certificate", "expired", "red")
    whole = math.floor(days)
    message = "expires today" if whole == 0 else f"{whole} day{'s' if whole != 1 else ''}"
    return Badge("certificate", message, _threshold(days, CERT_THRESHOLDS_DAYS, at_least=True))


def _threshold(value: float, table: tuple[tuple[float, str], ...], *, at_least: bool) -> str:
    for bound, color in table:
        if (value >= bound) if at_least else (value < bound):
            return color
    return "red"


def format_percent(pct: float) -> str:
    """Rounded down to two decimals, so that 99.996 % never reads as 100 %."""
    floored = math.floor(pct * 100 + 1e-7) / 100
    return f"{floored:.2f}".rstrip("0").rstrip(".") + "%"


def format_ms(ms: float) -> str:
    if ms < 1000:
        return f"{round(ms)} ms"
    return f"{ms / 1000:.2f} s"


# --------------------------------------------------------------------------- SVG

# Advance widths of Verdana (units of 1/2048 em) for printable ASCII, from the space to
# the tilde: the font badges are drawn in. Each text also carries `textLength`, so a
# viewer without Verdana stretches its fallback font to the same width.
_VERDANA = (
    720, 807, 940, 1856, 1419, 2540, 1656, 553, 1034, 1034, 1419, 1856, 720, 1034, 720, 1034,
    1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 1034, 1034, 1856, 1856, 1856,
    1231, 2246, 1446, 1441, 1472, 1666, 1334, 1231, 1635, 1604, 864, 1034, 1462, 1178, 1791,
    1604, 1697, 1276, 1697, 1487, 1419, 1262, 1560, 1446, 2093, 1449, 1261, 1438, 1034, 1034,
    1034, 1856, 1419, 1419, 1231, 1274, 1073, 1274, 1219, 720, 1274, 1296, 562, 686, 1192, 562,
    1993, 1296, 1233, 1274, 1274, 876, 1065, 806, 1296, 1192, 1673, 1192, 1192, 1058, 1298,
    1034, 1298, 1856,
)  # fmt: skip
FONT_SIZE = 11
FONT_FAMILY = "Verdana,Geneva,DejaVu Sans,sans-serif"
PADDING = 5  # on each side of a text
HEIGHT = 20


def text_width(text: str, size: int = FONT_SIZE) -> float:
    """Width in pixels of `text` in Verdana at `size` px (wide characters count 1 em)."""
    units = 0
    for char in text:
        code = ord(char)
        if 0x20 <= code <= 0x7E:
            units += _VERDANA[code - 0x20]
        elif unicodedata.east_asian_width(char) in ("W", "F"):
            units += 2048
        else:
            units += 1300
    return units * size / 2048


def render_svg(badge: Badge) -> str:
    """A flat badge, label on grey and message on its colour, both sides sized to fit."""
    label_text = round(text_width(badge.label))
    message_text = round(text_width(badge.message))
    left = label_text + 2 * PADDING
    right = message_text + 2 * PADDING
    width = left + right
    fill = COLORS[badge.color]
    title = f"{badge.label}: {badge.message}"

    def text(content: str, center: float, length: int) -> str:
        x, size = f"{center:g}", str(length)
        return (
            f'<text x="{x}" y="15" fill="#010101" fill-opacity=".3" textLength="{size}" '
            f'lengthAdjust="spacingAndGlyphs">{escape(content)}</text>'
            f'<text x="{x}" y="14" textLength="{size}" lengthAdjust="spacingAndGlyphs">'
            f"{escape(content)}</text>"
        )

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
        f'viewBox="0 0 {width} {HEIGHT}" role="img" aria-label={quoteattr(title)}>'
        f"<title>{escape(title)}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="{HEIGHT}" rx="3" fill="#fff"/>'
        "</clipPath>"
        f'<g clip-path="url(#r)"><rect width="{left}" height="{HEIGHT}" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="{HEIGHT}" fill="{fill}"/>'
        f'<rect width="{width}" height="{HEIGHT}" fill="url(#s)"/></g>'
        f'<g fill="#fff" text-anchor="middle" font-family="{FONT_FAMILY}" '
        f'font-size="{FONT_SIZE}">'
        f"{text(badge.label, left / 2, label_text)}"
        f"{text(badge.message, left + right / 2, message_text)}"
        "</g></svg>"
    )
