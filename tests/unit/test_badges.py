"""Badges: the path and window parsers (examples and Hypothesis), the text and colour for
known data at the thresholds, and the SVG (valid XML, the structure a badge needs, widths
that fit the text) and shields.io JSON."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wac.pages.badges import (
    COLORS,
    MAX_WINDOW,
    BadBadge,
    Badge,
    BadgeRequest,
    badge_for,
    format_percent,
    parse_badge_path,
    parse_window,
    render_svg,
    text_width,
)
from wac.pages.read import BadgeFacts
from wac.reports.aggregate import Aggregate

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("shop/status.svg", BadgeRequest("shop", "status", None, None, "svg")),
        ("shop/status.json", BadgeRequest("shop", "status", None, None, "json")),
        ("shop/certificate.svg", BadgeRequest("shop", "certificate", None, None, "svg")),
        (
            "shop/uptime/30d.svg",
            BadgeRequest("shop", "uptime", "30d", timedelta(days=30), "svg"),
        ),
        (
            "shop/response/24h.json",
            BadgeRequest("shop", "response", "24h", timedelta(hours=24), "json"),
        ),
        ("shop/uptime/2w.svg", BadgeRequest("shop", "uptime", "2w", timedelta(weeks=2), "svg")),
        # Ids with slashes and dots (a default id is "METHOD URL"): the kind is at the end.
        (
            "GET https://shop.example/a.b/status.svg",
            BadgeRequest("GET https://shop.example/a.b", "status", None, None, "svg"),
        ),
        (
            "a/uptime/uptime/7d.svg",
            BadgeRequest("a/uptime", "uptime", "7d", timedelta(days=7), "svg"),
        ),
        ("status/status.svg", BadgeRequest("status", "status", None, None, "svg")),
    ],
)
def test_badge_paths(path: str, expected: BadgeRequest) -> None:
    assert parse_badge_path(path) == expected


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("shop/status.png", "a badge path is /badge/TARGET/status.svg"),
        ("shop/status", "a badge path is"),
        ("shop/health.svg", "no such badge"),
        ("status.svg", "no such badge"),
        ("/status.svg", "names no target"),
        ("shop/uptime.svg", "no such badge"),
        ("shop/uptime/30.svg", "whole number of hours, days or weeks"),
        ("shop/uptime/30y.svg", "whole number of hours, days or weeks"),
        ("shop/uptime/0d.svg", "whole number of hours, days or weeks"),
        ("shop/uptime/-1d.svg", "whole number of hours, days or weeks"),
        ("shop/uptime/1.5d.svg", "whole number of hours, days or weeks"),
        ("shop/uptime/366d.svg", "at most 365 days"),
        ("shop/response/9999w.svg", "at most 365 days"),
        ("shop/uptime/99999d.svg", "whole number"),
        ("shop/uptime/\uff13\uff10d.svg", "whole number"),  # fullwidth digits
    ],
)
def test_bad_badge_paths_say_what_a_good_one_is(path: str, says: str) -> None:
    with pytest.raises(BadBadge) as caught:
        parse_badge_path(path)
    assert says in str(caught.value)
    assert "shop" not in str(caught.value)  # the message never repeats the path


def test_window_bounds() -> None:
    assert parse_window("1h") == timedelta(hours=1)
    assert parse_window("365d") == parse_window("8760h") == MAX_WINDOW
    assert parse_window("52w") == timedelta(weeks=52)
    for bad in ("53w", "8761h", "366d", "0h", "07d", "1d ", " 1d", "1D", ""):
        with pytest.raises(BadBadge):
            parse_window(bad)


def facts(status: str | None = None, uptime: tuple[int, int] | None = None,
          avg: float | None = None, cert: float | None = None) -> BadgeFacts:  # fmt: skip
    agg = None
    if uptime is not None or avg is not None:
        checks, failures = uptime or (10, 0)
        agg = Aggregate(checks=checks, failures=failures)
        if avg is not None:
            agg.rt_count, agg.rt_sum = 4, avg * 4
    return BadgeFacts(status=status, window=agg, cert_days_left=cert)


UPTIME = parse_badge_path("t/uptime/30d.svg")
RESPONSE = parse_badge_path("t/response/24h.svg")
CERT = parse_badge_path("t/certificate.svg")


@pytest.mark.parametrize(
    ("request_", "known", "expected"),
    [
        (parse_badge_path("t/status.svg"), facts("up"), Badge("status", "up", "brightgreen")),
        (parse_badge_path("t/status.svg"), facts("down"), Badge("status", "down", "red")),
        (parse_badge_path("t/status.svg"), facts(), Badge("status", "unknown", "lightgrey")),
        # Uptime: at each threshold and just below it; rounded down, never up to 100 %.
        (UPTIME, facts(uptime=(1000, 0)), Badge("uptime 30d", "100%", "brightgreen")),
        (UPTIME, facts(uptime=(100000, 1)), Badge("uptime 30d", "99.99%", "brightgreen")),
        (UPTIME, facts(uptime=(1000, 1)), Badge("uptime 30d", "99.9%", "brightgreen")),
        (UPTIME, facts(uptime=(10000, 11)), Badge("uptime 30d", "99.89%", "green")),
        (UPTIME, facts(uptime=(100, 1)), Badge("uptime 30d", "99%", "green")),
        (UPTIME, facts(uptime=(1000, 11)), Badge("uptime 30d", "98.9%", "yellow")),
        (UPTIME, facts(uptime=(100, 3)), Badge("uptime 30d", "97%", "yellow")),
        (UPTIME, facts(uptime=(1000, 31)), Badge("uptime 30d", "96.9%", "orange")),
        (UPTIME, facts(uptime=(100, 5)), Badge("uptime 30d", "95%", "orange")),
        (UPTIME, facts(uptime=(360, 30)), Badge("uptime 30d", "91.66%", "red")),
        (UPTIME, facts(uptime=(0, 0)), Badge("uptime 30d", "no data", "lightgrey")),
        (UPTIME, facts(), Badge("uptime 30d", "no data", "lightgrey")),
        # Response: the average, below each bound.
        (RESPONSE, facts(avg=120.4), Badge("response 24h", "120 ms", "brightgreen")),
        (RESPONSE, facts(avg=299.9), Badge("response 24h", "300 ms", "brightgreen")),
        (RESPONSE, facts(avg=300.0), Badge("response 24h", "300 ms", "green")),
        (RESPONSE, facts(avg=500.0), Badge("response 24h", "500 ms", "yellow")),
        (RESPONSE, facts(avg=1000.0), Badge("response 24h", "1.00 s", "orange")),
        (RESPONSE, facts(avg=2500.0), Badge("response 24h", "2.50 s", "red")),
        (RESPONSE, facts(uptime=(5, 5)), Badge("response 24h", "no data", "lightgrey")),
        # Certificate: whole days left.
        (CERT, facts(cert=89.6), Badge("certificate", "89 days", "brightgreen")),
        (CERT, facts(cert=30.0), Badge("certificate", "30 days", "brightgreen")),
        (CERT, facts(cert=29.9), Badge("certificate", "29 days", "green")),
        (CERT, facts(cert=13.9), Badge("certificate", "13 days", "yellow")),
        (CERT, facts(cert=6.5), Badge("certificate", "6 days", "red")),
        (CERT, facts(cert=1.2), Badge("certificate", "1 day", "red")),
        (CERT, facts(cert=0.4), Badge("certificate", "expires today", "red")),
        (CERT, facts(cert=-3.0), Badge("certificate", "expired", "red")),
        (CERT, facts(), Badge("certificate", "unknown", "lightgrey")),
    ],
)  # fmt: skip
def test_text_and_colour_follow_the_thresholds(
    request_: BadgeRequest, known: BadgeFacts, expected: Badge
) -> None:
    assert badge_for(request_, known) == expected


@pytest.mark.parametrize(
    ("pct", "shown"),
    [(100.0, "100%"), (99.996, "99.99%"), (99.95, "99.95%"), (99.9, "99.9%"), (50.0, "50%"),
     (0.0, "0%"), (97.2222, "97.22%"), (100 * 858 / 864, "99.3%")],
)  # fmt: skip
def test_percentages_are_rounded_down(pct: float, shown: str) -> None:
    assert format_percent(pct) == shown


def parse_svg(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # valid XML or an exception
    assert root.tag == f"{SVG}svg"
    return root


@pytest.mark.parametrize(
    "badge",
    [
        Badge("status", "up", "brightgreen"),
        Badge("uptime 30d", "99.95%", "green"),
        Badge("response 24h", "1.25 s", "orange"),
        Badge("certificate", "expires today", "red"),
        Badge("a<b&\"c'", "<script>x</script>", "lightgrey"),
    ],
)
def test_svg_is_valid_with_the_structure_of_a_badge(badge: Badge) -> None:
    root = parse_svg(render_svg(badge))
    width, height = int(root.get("width", "")), int(root.get("height", ""))
    assert height == 20 and root.get("viewBox") == f"0 0 {width} 20"
    assert root.get("aria-label") == f"{badge.label}: {badge.message}"
    assert root.findtext(f"{SVG}title") == f"{badge.label}: {badge.message}"
    label_rect, message_rect, _gloss = root.findall(f"{SVG}g/{SVG}rect")
    left, right = int(label_rect.get("width", "")), int(message_rect.get("width", ""))
    assert left + right == width and int(message_rect.get("x", "")) == left
    assert label_rect.get("fill") == "#555" and message_rect.get("fill") == COLORS[badge.color]
    texts = root.findall(f"{SVG}g/{SVG}text")
    assert [t.text for t in texts] == [badge.label] * 2 + [badge.message] * 2  # shadow, text
    for t, side, start in zip(texts, (left, left, right, right), (0, 0, left, left), strict=True):
        assert float(t.get("x", "")) == start + side / 2  # centred in its side
        length = int(t.get("textLength", ""))
        assert length + 10 == side  # 5 px of padding each side
        assert length == round(text_width(t.text or ""))
    assert not root.findall(f".//{SVG}script") and "href" not in render_svg(badge)


def test_widths_follow_the_font() -> None:
    assert text_width("status") == pytest.approx(33.67, abs=0.01)  # Verdana 11 px
    assert text_width("iiii") < text_width("mmmm")
    assert text_width("100%") > text_width("99%")
    assert text_width("日本") == pytest.approx(22.0)  # wide characters: 1 em each
    wide = parse_svg(render_svg(Badge("uptime 365d", "99.99%", "green")))
    narrow = parse_svg(render_svg(Badge("uptime 1h", "1%", "green")))
    assert int(wide.get("width", "")) > int(narrow.get("width", ""))


def test_shields_endpoint_json() -> None:
    badge = Badge("uptime 30d", "99.95%", "green")
    assert badge.to_shields(300) == {
        "schemaVersion": 1,
        "label": "uptime 30d",
        "message": "99.95%",
        "color": "green",
        "cacheSeconds": 300,
    }


# ---- any path at all (Hypothesis) -----------------------------------------------------

PROPERTY = settings(
    max_examples=int(os.environ.get("WAC_PROPERTY_EXAMPLES", "300")),
    deadline=timedelta(seconds=1),
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
kinds = st.sampled_from(
    ["status", "certificate", "uptime", "response", "uptime/30d", "response/24h", "x"]
)
windows = st.from_regex(r"[0-9]{1,6}[hdwmy]?", fullmatch=True) | st.text(max_size=8)


@PROPERTY
@given(
    target=st.text(max_size=30),
    kind=kinds,
    window=windows,
    suffix=st.sampled_from([".svg", ".json", ".png", "", ".svg.json"]),
    noise=st.text(max_size=10),
)
def test_any_path_is_a_badge_or_a_bad_badge(
    target: str, kind: str, window: str, suffix: str, noise: str
) -> None:
    for path in (
        f"{target}/{kind}{suffix}",
        f"{target}/{kind}/{window}{suffix}",
        noise + suffix,
        unquote(target),
    ):
        try:
            wanted = parse_badge_path(path)
        except BadBadge as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 300
            event("refused")
            continue
        event(wanted.kind)
        assert wanted.target and wanted.kind in ("status", "uptime", "response", "certificate")
        rebuilt = f"{wanted.target}/{wanted.kind}"
        if wanted.window is not None:
            assert timedelta(hours=1) <= wanted.window <= MAX_WINDOW
            rebuilt += f"/{wanted.window_text}"
        assert parse_badge_path(f"{rebuilt}.{wanted.format}") == wanted


@PROPERTY
@given(number=st.integers(min_value=-10, max_value=10**6), unit=st.sampled_from("hdwms"))
def test_windows_are_whole_units_within_a_year(number: int, unit: str) -> None:
    text = f"{number}{unit}"
    expected = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
    try:
        window = parse_window(text)
    except BadBadge:
        assert (
            unit not in expected
            or number < 1
            or number * expected[unit] > MAX_WINDOW
            or len(str(number)) > 4
        )
        return
    assert window == number * expected[unit] and window <= MAX_WINDOW
