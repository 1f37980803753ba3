"""The `status_pages:` section of the targets file: which targets each public page shows.

```yaml
status_pages:
  - slug: public                   # the page is /status/public
    title: Example Inc. status
    description: Our shop and its API.   # optional
    groups:
      - name: Website
        targets: [shop, blog]      # target ids (their `name:`) from this file's targets
      - name: API
        targets:
          - {id: api, label: Public API}   # optional label shown instead of the id
```

A page is a small typed structure (`StatusPage`) with a JSON form (`to_json`,
`page_from_json`) that goes through the same checks as the file, so pages can later
live elsewhere (a topic, a REST API) without a second validator. Every mistake is one
ConfigError naming the page and the field.

A page may list only targets of the same file: an id that is not there is an error (a
typo would otherwise be a public page that stays empty). The page never shows a target
it does not list, nor any target's URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from wac.errors import ConfigError
from wac.targets import TargetsFile, parse_targets_file, read_targets_file
from wac.yaml_config import reject_unknown_keys, shown, some_of

T = TypeVar("T")

SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
MAX_PAGES = 100
MAX_GROUPS = 50
MAX_PAGE_TARGETS = 500  # per page, all groups together: one page is one set of queries
MAX_TITLE_CHARS = 120
MAX_DESCRIPTION_CHARS = 2000
_PAGE_KEYS = {"slug", "title", "description", "groups"}
_GROUP_KEYS = {"name", "targets"}
_TARGET_KEYS = {"id", "label"}


@dataclass(frozen=True)
class PageTarget:
    id: str
    label: str | None = None

    @property
    def shown_as(self) -> str:
        return self.label if self.label is not None else self.id

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label}


@dataclass(frozen=True)
class PageGroup:
    name: str
    targets: tuple[PageTarget, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "targets": [t.to_json() for t in self.targets]}


@dataclass(frozen=True)
class StatusPage:
    slug: str
    title: str
    description: str
    groups: tuple[PageGroup, ...]

    @property
    def target_ids(self) -> tuple[str, ...]:
        """Every target the page lists, once each, in the order first listed."""
        return tuple(dict.fromkeys(t.id for g in self.groups for t in g.targets))

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "description": self.description,
            "groups": [g.to_json() for g in self.groups],
        }


def check_slug(raw: object, where: str) -> str:
    """A slug: 1 to 64 lowercase letters, digits and inner hyphens (it is a URL segment)."""
    if not isinstance(raw, str) or not SLUG.fullmatch(raw):
        raise ConfigError(
            f"{where}: slug {shown(raw)} must be 1 to 64 lowercase letters, digits and "
            "hyphens, not starting or ending with a hyphen (e.g. status or acme-public)"
        )
    return raw


def parse_status_pages(
    raw: object, *, source: str, known_targets: Iterable[str] | None
) -> tuple[StatusPage, ...]:
    """The pages of a `status_pages:` section (None or absent: no pages).

    `known_targets`: the ids a page may list (None: any id, for a page whose targets
    are checked elsewhere).
    """
    if raw is None:
        return ()
    where = f"{source}: status_pages"
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: must be a list of pages (each with slug, title, groups)")
    if len(raw) > MAX_PAGES:
        raise ConfigError(f"{where}: {len(raw)} pages; at most {MAX_PAGES}")
    known = None if known_targets is None else frozenset(known_targets)
    return _each_once(
        raw,
        lambda index, entry: parse_page(entry, f"{source}: status page #{index}", known),
        lambda page: page.slug,
        lambda index, page: (
            f"{source}: status page #{index}: slug {page.slug!r} is used by another page; "
            "give each page its own slug"
        ),
    )


def parse_page(raw: object, where: str, known: frozenset[str] | None = None) -> StatusPage:
    """One page from its mapping (the file's form or the JSON form)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a page must be a mapping with slug, title and groups")
    if isinstance(raw.get("slug"), str) and SLUG.fullmatch(raw["slug"]):
        where = f"{where.rsplit(' #', 1)[0]} {raw['slug']!r}"
    reject_unknown_keys(raw, _PAGE_KEYS, where)
    slug = check_slug(raw.get("slug"), where)
    title = _text(raw.get("title"), where, "title", MAX_TITLE_CHARS, required=True)
    description = _text(
        raw.get("description"), where, "description", MAX_DESCRIPTION_CHARS, multiline=True
    )
    groups_raw = raw.get("groups")
    if not isinstance(groups_raw, list) or not groups_raw:
        raise ConfigError(
            f"{where}: groups must be a non-empty list of {{name: ..., targets: [...]}}"
        )
    if len(groups_raw) > MAX_GROUPS:
        raise ConfigError(f"{where}: {len(groups_raw)} groups; at most {MAX_GROUPS}")
    groups = tuple(
        _parse_group(g, f"{where}: group #{i}", known) for i, g in enumerate(groups_raw, start=1)
    )
    count = sum(len(g.targets) for g in groups)
    if count > MAX_PAGE_TARGETS:
        raise ConfigError(
            f"{where}: lists {count} targets; at most {MAX_PAGE_TARGETS} per page (split it)"
        )
    return StatusPage(slug=slug, title=title, description=description, groups=groups)


def page_from_json(data: Mapping[str, Any], known: frozenset[str] | None = None) -> StatusPage:
    """The inverse of `StatusPage.to_json`, with the file's checks."""
    return parse_page(data, "status page", known)


def _parse_group(raw: object, where: str, known: frozenset[str] | None) -> PageGroup:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a group must be a mapping {{name: ..., targets: [...]}}")
    if isinstance(raw.get("name"), str) and raw["name"].strip().isprintable():
        where = f"{where.rsplit(' #', 1)[0]} {shown(raw['name'].strip())}"
    reject_unknown_keys(raw, _GROUP_KEYS, where)
    name = _text(raw.get("name"), where, "name", MAX_TITLE_CHARS, required=True)
    entries = raw.get("targets")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: targets must be a non-empty list of target ids")
    targets = _each_once(
        entries,
        lambda index, entry: _parse_target(entry, f"{where}: targets #{index}", known),
        lambda target: target.id,
        lambda _, target: (
            f"{where}: target {shown(target.id)} is listed twice in this group; keep one"
        ),
    )
    return PageGroup(name=name, targets=targets)


def _each_once(
    entries: list[Any],
    parse: Callable[[int, object], T],
    key: Callable[[T], str],
    twice: Callable[[int, T], str],
) -> tuple[T, ...]:
    """Each entry parsed (`parse(number from 1, entry)`); a ConfigError saying `twice`
    for an entry whose key an earlier one has."""
    parsed: list[T] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        item = parse(index, entry)
        if key(item) in seen:
            raise ConfigError(twice(index, item))
        seen.add(key(item))
        parsed.append(item)
    return tuple(parsed)


def _parse_target(raw: object, where: str, known: frozenset[str] | None) -> PageTarget:
    label: str | None = None
    if isinstance(raw, Mapping):
        reject_unknown_keys(raw, _TARGET_KEYS, where)
        target_id = raw.get("id")
        if "label" in raw and raw["label"] is not None:
            label = _text(raw["label"], where, "label", MAX_TITLE_CHARS, required=True)
    else:
        target_id = raw
    if not isinstance(target_id, str) or not target_id:
        raise ConfigError(
            f"{where}: give a target id (its `name:`), or {{id: ..., label: ...}}; "
            f"got {shown(target_id)}"
        )
    if known is not None and target_id not in known:
        raise ConfigError(
            f"{where}: no target has the id {shown(target_id)} in this file; known ids: "
            f"{some_of(known)}"
        )
    return PageTarget(id=target_id, label=label)


def _text(
    raw: object,
    where: str,
    field_name: str,
    maximum: int,
    *,
    required: bool = False,
    multiline: bool = False,
) -> str:
    if raw is None and not required:
        return ""
    if not isinstance(raw, str) or (required and not raw.strip()):
        raise ConfigError(f"{where}: {field_name} must be a non-empty string")
    text = raw.strip()
    if len(text) > maximum:
        raise ConfigError(
            f"{where}: {field_name} is {len(text)} characters long; at most {maximum}"
        )
    lines = text.split("\n") if multiline else [text]
    for line in lines:
        if not line.isprintable():
            char = next(c for c in line if not c.isprintable())
            raise ConfigError(
                f"{where}: {field_name} contains the character {char!r}, which a page cannot "
                "show as it is; remove it"
            )
    return text


def pages_of(targets_file: TargetsFile) -> tuple[StatusPage, ...]:
    """The pages of a targets file read once, checked against its targets."""
    return parse_status_pages(
        targets_file.status_pages,
        source=targets_file.source,
        known_targets=targets_file.target_ids,
    )


def parse_pages_document(document: object, *, source: str) -> tuple[StatusPage, ...]:
    """The pages of a whole targets-file document, its targets checked as the monitor
    checks them (a file `wac web` accepts, monitors accept)."""
    return pages_of(parse_targets_file(document, source=source, default_timeout=1.0))


def load_status_pages(path: Path) -> tuple[StatusPage, ...]:
    """The status pages of the targets file at `path`; a one-line ConfigError if wrong."""
    return pages_of(read_targets_file(path, default_timeout=1.0))
