"""Entries that are only an http(s) `url:` take a shortcut (wac.targets.entry.url_only_target):
the targets must be those of the full path, and the messages name the same entry."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wac.errors import ConfigError
from wac.targets import Target, parse_targets_document
from wac.targets.entry import parse_fields, target_from_entry
from wac.targets.fields import DEFAULT_PARSERS, field_defaults

DEFAULTS = {
    "interval": "30s",
    "timeout": "3s",
    "verify_tls": False,
    "headers": {"X-Probe": "wac"},
    "expect_status": [200, 204],
    "max_redirects": 2,
}
URLS = st.sampled_from(
    [
        "http://a.example/",
        "https://b.example/x?y=1",
        "HTTPS://C.example/",
        "http://user:secret@d.example/path",
        "https://e.example:8443/",
        "http://[::1]:8080/",
    ]
)


def full_path(document: dict[str, Any]) -> list[Target]:
    base = field_defaults(1.0)
    base.update(parse_fields(document["defaults"], DEFAULT_PARSERS, "defaults"))
    entries = document["targets"]
    assert isinstance(entries, list)
    return [target_from_entry(e, f"target #{i}", base) for i, e in enumerate(entries, 1)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(URLS, st.integers(0, 10**6)), min_size=1, max_size=12), st.data())
def test_the_shortcut_makes_the_targets_of_the_full_path(
    urls: list[tuple[str, int]], data: st.DataObject
) -> None:
    entries: list[dict[str, object]] = []
    for url, n in dict.fromkeys(urls):  # distinct ids
        separator = "&" if "?" in url else "?"
        entry: dict[str, object] = {"url": f"{url}{separator}n={n}"}
        if data.draw(st.booleans()):
            entry["name"] = f"named {url} {n}"  # not url-only: the full path
        entries.append(entry)
    document: dict[str, Any] = {"defaults": DEFAULTS, "targets": entries}
    made = parse_targets_document(document, source="t", default_timeout=1.0)
    expected = full_path(document)
    assert made == expected
    for target, wanted in zip(made, expected, strict=True):
        assert (target.url, target.id, target.public_url, target.scheme) == (
            wanted.url,
            wanted.id,
            wanted.public_url,
            wanted.scheme,
        )
        assert target.headers == (("X-Probe", "wac"),) and target.verify_tls is False
        assert "secret" not in target.public_url


def test_a_bad_url_and_a_duplicate_name_their_entries() -> None:
    good = {"url": "http://a.example/"}
    with pytest.raises(
        ConfigError, match=r"target #3 \('http://b\.example/ x'\): url .* white space"
    ):
        parse_targets_document(
            {"targets": [good, {"url": "http://b.example/"}, {"url": "http://b.example/ x"}]},
            source="t",
            default_timeout=1.0,
        )
    with pytest.raises(
        ConfigError,
        match=r"target #3 \('http://a\.example/'\): duplicate target id .* \(also t: target "
        r"#1 \('http://a\.example/'\)\)",
    ):
        parse_targets_document(
            {"targets": [good, {"url": "http://c.example/"}, good]}, source="t", default_timeout=1.0
        )


def test_the_shortcut_targets_take_no_more_memory_than_the_full_paths() -> None:
    """Their instance dicts share keys with the class's, as __init__'s do: a copied dict
    cost 750 bytes more a target (75 MB with 100,000)."""
    import sys

    entries = [{"url": f"http://a.example/?n={i}"} for i in range(3)] + [
        {"name": "n", "url": "http://b.example/"}
    ]
    first, shortcut, _, full = parse_targets_document(
        {"targets": entries}, source="t", default_timeout=1.0
    )
    for target in (first, shortcut, full):
        _ = (target.scheme, target.public_url)  # the cached properties, as the loop reads them
    assert sys.getsizeof(shortcut.__dict__) == sys.getsizeof(full.__dict__)
