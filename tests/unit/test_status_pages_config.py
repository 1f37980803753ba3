"""The `status_pages:` section of the targets file: what it accepts, what it refuses (one
line naming the page and the field), its JSON form; and any document at all through it
(Hypothesis)."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wac.errors import ConfigError
from wac.pages.config import (
    MAX_PAGE_TARGETS,
    PageGroup,
    PageTarget,
    StatusPage,
    load_status_pages,
    page_from_json,
    parse_pages_document,
)
from wac.targets import parse_targets_document
from wac.yaml_config import parse_yaml

TARGETS = """
targets:
  - {url: "https://shop.example/", name: shop}
  - {url: "https://api.example/", name: api}
  - {url: "https://blog.example/", name: blog}
"""


def parse(pages: str) -> tuple[StatusPage, ...]:
    document = parse_yaml(TARGETS + pages, "t.yaml")
    return parse_pages_document(document, source="t.yaml")


def refused(pages: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(pages)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("t.yaml: "), message
    return message


def test_a_full_page_and_its_json_form() -> None:
    (page,) = parse(
        """
status_pages:
  - slug: acme-public
    title: Acme status
    description: |
      Our shop and its API.
      Second line.
    groups:
      - name: Website
        targets: [shop, blog]
      - name: API
        targets: [{id: api, label: Public API}, shop]
"""
    )
    assert page == StatusPage(
        slug="acme-public",
        title="Acme status",
        description="Our shop and its API.\nSecond line.",
        groups=(
            PageGroup("Website", (PageTarget("shop"), PageTarget("blog"))),
            PageGroup("API", (PageTarget("api", "Public API"), PageTarget("shop"))),
        ),
    )
    assert page.target_ids == ("shop", "blog", "api")
    as_json = json.loads(json.dumps(page.to_json()))
    assert as_json["groups"][1]["targets"][0] == {"id": "api", "label": "Public API"}
    assert page_from_json(as_json) == page


def test_no_section_is_no_pages_and_the_monitor_accepts_the_section() -> None:
    assert parse("") == ()
    assert parse("status_pages:\n") == ()
    document = parse_yaml(
        TARGETS + "status_pages: [{slug: s, title: T, groups: [{name: G, targets: [shop]}]}]",
        "t.yaml",
    )
    assert len(parse_targets_document(document, source="t.yaml", default_timeout=1.0)) == 3


@pytest.mark.parametrize(
    ("pages", "says"),
    [
        ("status_pages: {slug: s}", "status_pages: must be a list of pages"),
        ("status_pages: [nope]", "status page #1: a page must be a mapping"),
        (
            "status_pages: [{slug: Big, title: T, groups: [{name: G, targets: [shop]}]}]",
            "status page #1: slug 'Big' must be 1 to 64 lowercase letters",
        ),
        (
            "status_pages: [{slug: -a, title: T, groups: [{name: G, targets: [shop]}]}]",
            "slug '-a' must be",
        ),
        (
            "status_pages: [{slug: '../x', title: T, groups: [{name: G, targets: [shop]}]}]",
            "slug '../x' must be",
        ),
        (
            "status_pages: [{title: T, groups: [{name: G, targets: [shop]}]}]",
            "slug None must be",
        ),
        (
            "status_pages: [{slug: s, groups: [{name: G, targets: [shop]}]}]",
            "status page 's': title must be a non-empty string",
        ),
        (
            "status_pages: [{slug: s, title: '  ', groups: [{name: G, targets: [shop]}]}]",
            "status page 's': title must be a non-empty string",
        ),
        (
            'status_pages: [{slug: s, title: "a\\u202eb", groups: [{name: G, targets: [shop]}]}]',
            "status page 's': title contains the character '\\u202e'",
        ),
        (
            "status_pages: [{slug: s, title: T, groups: [{name: G, targets: [shop]}], x: 1}]",
            "status page 's': unknown key 'x'; allowed keys: description, groups, slug, title",
        ),
        ("status_pages: [{slug: s, title: T, groups: []}]", "status page 's': groups must be"),
        (
            "status_pages: [{slug: s, title: T, groups: [{name: G, targets: [shopp]}]}]",
            "status page 's': group 'G': targets #1: no target has the id 'shopp' in this file; "
            "known ids: 'api', 'blog', 'shop'",
        ),
        (
            "status_pages: [{slug: s, title: T, groups: [{name: G, targets: []}]}]",
            "status page 's': group 'G': targets must be a non-empty list",
        ),
        (
            "status_pages: [{slug: s, title: T, groups: [{name: G, targets: [shop, shop]}]}]",
            "group 'G': target 'shop' is listed twice in this group",
        ),
        (
            "status_pages: [{slug: s, title: T, groups: [{targets: [shop]}]}]",
            "status page 's': group #1: name must be a non-empty string",
        ),
        (
            "status_pages: [{slug: s, title: T, groups: [{name: G, targets: [{id: shop, x: 1}]}]}]",
            "group 'G': targets #1: unknown key 'x'; allowed keys: id, label",
        ),
        (
            "status_pages: [{slug: s, title: T, groups: [{name: G, targets: [7]}]}]",
            "group 'G': targets #1: give a target id",
        ),
        (
            "status_pages: [{slug: s, title: T, groups: [{name: G, targets: [shop]}]},"
            " {slug: s, title: U, groups: [{name: G, targets: [api]}]}]",
            "status page #2: slug 's' is used by another page",
        ),
        (
            "status_pages: [{slug: s, title: "
            + "x" * 121
            + ", groups: [{name: G, targets: [shop]}]}]",
            "title is 121 characters long; at most 120",
        ),
    ],
)
def test_mistakes_name_the_page_and_the_field(pages: str, says: str) -> None:
    assert says in refused(pages)


def test_the_readme_example_is_valid() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Status pages and badges", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (page,) = parse_pages_document(parse_yaml(example, "README.md"), source="README.md")
    assert page.slug == "status" and page.target_ids == ("shop", "blog", "api")
    assert page.groups[1].targets[0] == PageTarget("api", "Public API")


def test_bounds_on_pages_and_targets() -> None:
    ids = [f"t{i}" for i in range(MAX_PAGE_TARGETS + 1)]
    targets = "targets:\n" + "".join(f"  - {{url: 'https://a/{i}', name: {i}}}\n" for i in ids)
    groups = [{"name": f"g{i}", "targets": ids[i * 10 : i * 10 + 10]} for i in range(50)]
    groups.append({"name": "last", "targets": ids[500:]})
    page = {"slug": "big", "title": "Big", "groups": groups}
    document = parse_yaml(targets + "status_pages: " + json.dumps([page]), "t.yaml")
    with pytest.raises(ConfigError, match="51 groups; at most 50"):
        parse_pages_document(document, source="t.yaml")
    page["groups"] = [{"name": "all", "targets": ids}]
    document = parse_yaml(targets + "status_pages: " + json.dumps([page]), "t.yaml")
    with pytest.raises(ConfigError, match="lists 501 targets; at most 500 per page"):
        parse_pages_document(document, source="t.yaml")


def test_the_file_loader_refuses_what_the_yaml_loader_refuses(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        TARGETS + "status_pages:\n  - slug: s\n    slug: t\n    title: T\n    groups: []\n"
    )
    with pytest.raises(ConfigError, match="the key 'slug' is written twice"):
        load_status_pages(path)
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous},*{previous},*{previous},*{previous},*{previous},"
        bomb += f"*{previous},*{previous},*{previous},*{previous},*{previous}]\n"
    path.write_text(bomb + TARGETS + "status_pages:\n  - {slug: s, title: T, groups: [*h]}\n")
    with pytest.raises(ConfigError, match="alias bomb"):
        load_status_pages(path)
    path.write_text(
        TARGETS + "status_pages: [{slug: s, title: T, groups: [{name: G, targets: [shop]}]}]"
    )
    assert [p.slug for p in load_status_pages(path)] == ["s"]


# ---- any document at all (Hypothesis) -------------------------------------------------

KNOWN = frozenset({"shop", "api", "blog"})


def rarely(
    good: st.SearchStrategy[object], bad: st.SearchStrategy[object]
) -> st.SearchStrategy[object]:
    """`bad` about one time in six, `good` otherwise: most documents are near-valid, so
    both the refusals and the acceptance are exercised."""
    return st.integers(0, 5).flatmap(lambda n: bad if n == 5 else good)


hostile_text = st.text(max_size=12) | st.sampled_from(["", " ", "x\u202ey", "a\nb", "x" * 130])
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | hostile_text
names = rarely(st.sampled_from(["Web", "API", "Status", "Acme"]), scalars)
ids = rarely(st.sampled_from(sorted(KNOWN)), scalars)
target_entries = st.lists(
    rarely(ids, st.fixed_dictionaries({"id": ids}, optional={"label": names, "x": scalars})),
    min_size=1,
    max_size=4,
)
groups = st.lists(
    rarely(
        st.fixed_dictionaries({"name": names, "targets": rarely(target_entries, scalars)}),
        st.fixed_dictionaries({"name": names}, optional={"targets": scalars, "x": scalars}),
    ),
    min_size=1,
    max_size=3,
)
pages_strategy = st.lists(
    rarely(
        st.fixed_dictionaries(
            {
                "slug": rarely(
                    st.from_regex(r"[a-z0-9][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True),
                    st.from_regex(r"[a-zA-Z0-9./-]{0,70}", fullmatch=True) | scalars,
                ),
                "title": names,
                "groups": rarely(groups, scalars),
            },
            optional={"description": rarely(st.text(max_size=40), scalars)},
        ),
        scalars | st.fixed_dictionaries({"slug": names}, optional={"extra": scalars}),
    ),
    max_size=3,
)
PROPERTY = settings(
    max_examples=int(os.environ.get("WAC_PROPERTY_EXAMPLES", "300")),
    deadline=timedelta(seconds=2),
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY
@given(section=pages_strategy | scalars)
def test_any_section_is_pages_or_one_line(section: object) -> None:
    from wac.pages.config import parse_status_pages

    try:
        pages = parse_status_pages(section, source="t.yaml", known_targets=KNOWN)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("t.yaml: ") and "\n" not in message and len(message) < 1000
        event("refused")
        return
    event(f"{len(pages)} pages")
    assert len({p.slug for p in pages}) == len(pages)
    for page in pages:
        assert set(page.target_ids) <= KNOWN
        assert page.title.isprintable() and page.title == page.title.strip()
        assert all(g.targets for g in page.groups)
        assert page_from_json(json.loads(json.dumps(page.to_json())), KNOWN) == page


@PROPERTY
@given(section=pages_strategy, tail=st.text(max_size=40))
def test_any_targets_file_with_pages_is_pages_or_one_line(section: object, tail: str) -> None:
    """The whole file's text through the YAML loader: a file text may also break the YAML."""
    document = TARGETS + "status_pages: " + json.dumps(section) + "\n" + tail
    try:
        pages = parse_pages_document(parse_yaml(document, "t.yaml"), source="t.yaml")
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("t.yaml: ")
        event("refused")
        return
    event("accepted")
    assert all(set(p.target_ids) <= KNOWN for p in pages)
