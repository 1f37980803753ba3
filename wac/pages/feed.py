"""The Atom 1.0 feed of a status page (RFC 4287): its incidents and notices.

Built from the same JSON as the page (wac.pages.read.page_view), so the feed says what
the page says. Entry ids are `urn:uuid:` names derived from the page and the entry's
own facts (the target and start of an incident; the creation of a notice), so they stay
the same from one fetch to the next and reveal no database counter. Links are relative
to the feed's own address: the feed never repeats the request's Host header, which a
client chooses.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from wac.safe_text import visible

ATOM = "http://www.w3.org/2005/Atom"
_NAMESPACE = uuid.UUID("5a0c4f0e-8f8e-4d0c-9b7e-7761632d7374")  # wac status pages
_NOT_XML = {c: f"\\u{c:04x}" for c in (0xFFFE, 0xFFFF)}


def _clean(text: str) -> str:
    """Text XML 1.0 can hold, shown as the page shows it: invisible controls escaped."""
    return visible(text).translate(_NOT_XML)


def _multiline(text: str) -> str:
    return "\n".join(_clean(line) for line in text.split("\n"))


def entry_id(slug: str, *facts: str) -> str:
    return "urn:uuid:" + str(uuid.uuid5(_NAMESPACE, "\x1f".join((slug, *facts))))


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if seconds < 60:
        return f"{round(seconds)} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _incident_entry(slug: str, incident: dict[str, Any]) -> dict[str, Any]:
    label = incident["label"]
    if incident["ongoing"]:
        title = f"{label} is down"
        text = f"Down since {incident['start']} ({_duration(incident['duration_s'])} so far)."
    else:
        title = f"{label} was down for {_duration(incident['duration_s'])}"
        text = (
            f"Down from {incident['start']} to {incident['end']} "
            f"({_duration(incident['duration_s'])})."
        )
    if incident["cause"]:
        text += f" Cause: {incident['cause']}"
    return {
        "id": entry_id(slug, "incident", incident["target"], incident["start"]),
        "title": title,
        "updated": incident["end"] or incident["start"],
        "published": incident["start"],
        "content": text,
        "category": "incident",
    }


def _notice_entry(slug: str, notice: dict[str, Any]) -> dict[str, Any]:
    title = notice["title"]
    text = notice["body"]
    if notice["kind"] == "maintenance":
        title = f"Maintenance: {title}"
        window = f"Scheduled from {notice['starts']} to {notice['ends']}."
        text = f"{window}\n\n{text}" if text else window
    return {
        "id": entry_id(slug, "notice", notice["created_at"], notice["title"]),
        "title": title,
        "updated": notice["updated_at"],
        "published": notice["created_at"],
        "content": text or title,
        "category": notice["kind"],
    }


def render_feed(view: dict[str, Any]) -> bytes:
    """The feed of a page view, newest entry first."""
    page = view["page"]
    slug = page["slug"]
    entries = [_incident_entry(slug, i) for i in view["incidents"]]
    entries += [_notice_entry(slug, n) for n in view["notices"]]
    entries.sort(key=lambda e: datetime.fromisoformat(e["updated"]), reverse=True)
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", entry_id(slug, "feed"))
    _add(feed, "title", _clean(page["title"]))
    if page["description"]:
        _add(feed, "subtitle", _multiline(page["description"]))
    _add(feed, "updated", entries[0]["updated"] if entries else view["generated_at"])
    author = _add(feed, "author")
    _add(author, "name", _clean(page["title"]))
    _add(feed, "link", rel="self", type="application/atom+xml", href=f"/status/{slug}/feed.atom")
    _add(feed, "link", rel="alternate", type="text/html", href=f"/status/{slug}")
    _add(feed, "generator", "wac")
    for item in entries:
        entry = _add(feed, "entry")
        _add(entry, "id", item["id"])
        _add(entry, "title", _clean(item["title"]))
        _add(entry, "updated", item["updated"])
        _add(entry, "published", item["published"])
        _add(entry, "link", rel="alternate", type="text/html", href=f"/status/{slug}")
        _add(entry, "category", term=item["category"])
        _add(entry, "content", _multiline(item["content"]), type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
