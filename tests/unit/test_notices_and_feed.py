"""Notices as the CLI and the API give them (examples and Hypothesis over any JSON
object), and the Atom feed built from a page's view: valid Atom 1.0 whatever the text
holds, with stable ids."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wac.errors import ConfigError
from wac.pages.feed import ATOM, render_feed
from wac.pages.notices import MAX_BODY_CHARS, Notice, parse_notice

A = f"{{{ATOM}}}"


def test_a_maintenance_notice() -> None:
    notice = parse_notice(
        "status",
        {
            "title": " Database upgrade ",
            "body": "We upgrade PostgreSQL.\r\nExpect 5 minutes of errors.",
            "kind": "maintenance",
            "starts": "2026-06-01T22:00:00Z",
            "ends": "2026-06-01 23:30",
        },
    )
    assert notice.title == "Database upgrade"
    assert notice.body == "We upgrade PostgreSQL.\nExpect 5 minutes of errors."
    assert notice.starts == datetime(2026, 6, 1, 22, tzinfo=UTC)
    assert notice.ends == datetime(2026, 6, 1, 23, 30, tzinfo=UTC)  # no zone: UTC
    info = parse_notice("status", {"title": "Hello"})
    assert (info.kind, info.body, info.starts, info.ends) == ("info", "", None, None)


@pytest.mark.parametrize(
    ("page", "fields", "says"),
    [
        ("Status", {"title": "x"}, "slug 'Status' must be 1 to 64 lowercase letters"),
        ("s", {}, "title must be a non-empty string"),
        ("s", {"title": "  "}, "title must be a non-empty string"),
        ("s", {"title": 5}, "title must be a non-empty string"),
        ("s", {"title": "a\nb"}, "title must be one line of printable text"),
        ("s", {"title": "a\u202eb"}, "title must be one line of printable text"),
        ("s", {"title": "x" * 121}, "title is 121 characters long; at most 120"),
        ("s", {"title": "t", "body": 3}, "body must be a string"),
        ("s", {"title": "t", "body": "a\x00b"}, "body must be printable text"),
        ("s", {"title": "t", "body": "x" * (MAX_BODY_CHARS + 1)}, "at most 5000"),
        ("s", {"title": "t", "kind": "outage"}, "kind 'outage' must be one of info, maintenance"),
        ("s", {"title": "t", "kind": "maintenance"}, "a maintenance notice needs both starts"),
        ("s", {"title": "t", "starts": "soon"}, "starts='soon' is not a time"),
        ("s", {"title": "t", "starts": 7}, "starts must be an ISO 8601 time"),
        ("s", {"title": "t", "starts": "0001-01-01"}, "out of range"),
        (
            "s",
            {"title": "t", "starts": "2026-06-02", "ends": "2026-06-01"},
            "ends (2026-06-01T00:00:00Z) must be after starts (2026-06-02T00:00:00Z)",
        ),
        ("s", {"title": "t", "color": "red"}, "unknown field 'color'; allowed: body, ends"),
    ],
)
def test_bad_notices_say_which_field(page: str, fields: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_notice(page, fields, where="notice")
    assert says in str(caught.value) and "\n" not in str(caught.value)


PROPERTY = settings(
    max_examples=int(os.environ.get("WAC_PROPERTY_EXAMPLES", "300")),
    deadline=timedelta(seconds=1),
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def rarely(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`bad` about one time in five: most objects are near-valid, so both outcomes occur."""
    return st.integers(0, 4).flatmap(lambda n: bad if n == 4 else good)


times = st.datetimes(
    min_value=datetime(1800, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.isoformat())
known_fields = st.fixed_dictionaries(
    {"title": rarely(st.sampled_from(["Upgrade", "Hello", " pad "]), st.text(max_size=130))},
    optional={
        "body": rarely(st.text(max_size=50), json_values),
        "kind": rarely(st.sampled_from(["info", "maintenance"]), json_values),
        "starts": rarely(times, st.text(max_size=30) | json_values),
        "ends": rarely(times, st.text(max_size=30) | json_values),
    },
)
fields = rarely(
    known_fields, st.tuples(known_fields, json_values).map(lambda f: {**f[0], "x": f[1]})
)


@PROPERTY
@given(page=rarely(st.sampled_from(["status", "a-b"]), st.text(max_size=10)), fields=fields)
def test_any_json_object_is_a_notice_or_one_line(page: str, fields: dict[str, Any]) -> None:
    try:
        notice = parse_notice(page, fields, where="notice")
    except ConfigError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 500
        event("refused")
        return
    event(f"accepted {notice.kind}")
    assert notice.title.isprintable() and 0 < len(notice.title) <= 120
    assert all(line.isprintable() for line in notice.body.split("\n"))
    if notice.starts and notice.ends:
        assert notice.ends > notice.starts
    if notice.kind == "maintenance":
        assert notice.starts is not None and notice.ends is not None


# ---- the feed -------------------------------------------------------------------------

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def view(title: str = "Acme status", cause: str = "connect: Connection refused") -> dict[str, Any]:
    notice = Notice(
        id=7,
        page="acme",
        kind="maintenance",
        title="Database upgrade",
        body="Ten minutes.",
        starts=NOW + timedelta(days=1),
        ends=NOW + timedelta(days=1, hours=1),
        created_at=NOW - timedelta(hours=2),
        updated_at=NOW - timedelta(hours=1),
    )
    return {
        "page": {"slug": "acme", "title": title, "description": "Shop and API."},
        "generated_at": "2026-03-10T12:00:00Z",
        "incidents": [
            {
                "target": "shop",
                "label": "Shop",
                "start": "2026-03-08T10:00:00Z",
                "end": "2026-03-08T10:30:00Z",
                "ongoing": False,
                "duration_s": 1800.0,
                "cause": cause,
            },
            {
                "target": "api",
                "label": "API",
                "start": "2026-03-10T11:40:00Z",
                "end": None,
                "ongoing": True,
                "duration_s": 1200.0,
                "cause": "timeout: timed out",
            },
        ],
        "notices": [notice.to_json(NOW)],
    }


def parse_feed(data: bytes) -> ET.Element:
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(data)
    assert root.tag == f"{A}feed"
    # RFC 4287: a feed has exactly one id, title and updated; so does every entry.
    for node in (root, *root.findall(f"{A}entry")):
        for tag in ("id", "title", "updated"):
            assert len(node.findall(f"{A}{tag}")) == 1, (node.tag, tag)
            assert node.findtext(f"{A}{tag}")
        datetime.fromisoformat(node.findtext(f"{A}updated") or "")
        assert (node.findtext(f"{A}id") or "").startswith("urn:uuid:")
    assert root.find(f"{A}author/{A}name") is not None
    return root


def test_feed_entries_for_incidents_and_notices() -> None:
    root = parse_feed(render_feed(view()))
    assert root.findtext(f"{A}title") == "Acme status"
    assert root.findtext(f"{A}subtitle") == "Shop and API."
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{A}link")}
    assert links == {"self": "/status/acme/feed.atom", "alternate": "/status/acme"}
    entries = root.findall(f"{A}entry")
    titles = [e.findtext(f"{A}title") for e in entries]
    # Newest change first: the ongoing incident, the notice, the incident that ended.
    assert titles == ["API is down", "Maintenance: Database upgrade", "Shop was down for 30 min"]
    assert root.findtext(f"{A}updated") == "2026-03-10T11:40:00Z"
    shop = entries[2]
    assert shop.findtext(f"{A}content") == (
        "Down from 2026-03-08T10:00:00Z to 2026-03-08T10:30:00Z (30 min). "
        "Cause: connect: Connection refused"
    )
    assert shop.find(f"{A}category").get("term") == "incident"  # type: ignore[union-attr]
    assert "Scheduled from 2026-03-11T12:00:00Z to 2026-03-11T13:00:00Z." in (
        entries[1].findtext(f"{A}content") or ""
    )
    again = parse_feed(render_feed(view()))
    assert [e.findtext(f"{A}id") for e in again.findall(f"{A}entry")] == [
        e.findtext(f"{A}id") for e in entries
    ]
    assert len({e.findtext(f"{A}id") for e in entries}) == 3


def test_feed_is_valid_xml_whatever_the_text_holds() -> None:
    hostile = "a\x01b\x0bc\ufffe\uffff\u202eevil & <tag> ]]> \"'\ud7ff"
    root = parse_feed(render_feed(view(title=hostile, cause=hostile)))
    title = root.findtext(f"{A}title") or ""
    assert "\\u0001" in title and "\\u202e" in title and "<tag>" in title
    assert "\u202e" not in title and "\x01" not in title


def test_an_empty_feed_is_valid() -> None:
    empty = {**view(), "incidents": [], "notices": []}
    root = parse_feed(render_feed(empty))
    assert root.findall(f"{A}entry") == []
    assert root.findtext(f"{A}updated") == "2026-03-10T12:00:00Z"
