"""The query of `/api/overview`: search, status filter, sort and page, from its parameters.

    /api/overview?q=shop&status=down,unknown&sort=uptime_30d&order=asc&page=2&limit=50

Every parameter is optional; an unknown name, a repeated one (but `status`) or a value
out of its range is a `QueryError` naming the parameter and what it takes (the
dashboard answers it 400). Total: any text in, an `OverviewQuery` or a `QueryError`
out, never another exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# sort name → what it orders by (wac.web.data turns it into SQL).
SORTS = (
    "status",  # down, then unknown, then up (the default: failing targets first)
    "name",  # the target id
    "since",  # since when the status holds
    "checked",  # the newest check's time
    "response",  # the newest check's response time
    "cert",  # certificate days left
    "uptime_24h",
    "uptime_7d",
    "uptime_30d",
)
ORDERS = ("asc", "desc")
STATUSES = ("up", "down", "unknown")
PARAMETERS = ("q", "status", "sort", "order", "page", "limit")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_PAGE = 100_000
MAX_SEARCH = 200  # characters


class QueryError(ValueError):
    """A parameter of /api/overview that cannot be served; the message says how to fix it."""


@dataclass(frozen=True)
class OverviewQuery:
    q: str = ""  # case-insensitive substring of the target id or URL; "" matches all
    statuses: frozenset[str] = field(default_factory=frozenset)  # empty: every status
    sort: str = "status"
    order: str = "asc"
    page: int = 1  # 1-based
    limit: int = DEFAULT_LIMIT

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def to_json(self) -> dict[str, object]:
        return {
            "q": self.q,
            "status": [s for s in STATUSES if s in self.statuses],
            "sort": self.sort,
            "order": self.order,
            "page": self.page,
            "limit": self.limit,
        }


def parse_overview_query(items: Iterable[tuple[str, str]]) -> OverviewQuery:
    """The query of these (name, value) pairs, in the order given (a MultiDict's items)."""
    seen: dict[str, list[str]] = {}
    for name, value in items:
        if name not in PARAMETERS:
            raise QueryError(
                f"unknown parameter {name[:30]!a}: /api/overview takes " + ", ".join(PARAMETERS)
            )
        seen.setdefault(name, []).append(value)
    for name, values in seen.items():
        if name != "status" and len(values) > 1:
            raise QueryError(f"give {name} once (it was given {len(values)} times)")
    one = {name: values[0] for name, values in seen.items()}
    q = " ".join(one.get("q", "").split())
    if len(q) > MAX_SEARCH:
        raise QueryError(f"q is {len(q)} characters long: search with at most {MAX_SEARCH}")
    statuses: set[str] = set()
    for value in seen.get("status", []):
        for word in value.split(","):
            word = word.strip().lower()
            if word not in STATUSES:
                raise QueryError(
                    f"status {word[:30]!a} is not one of {', '.join(STATUSES)} "
                    "(several: status=down,unknown)"
                )
            statuses.add(word)
    sort = _choice(one, "sort", SORTS, "status")
    order = _choice(one, "order", ORDERS, "asc")
    page = _number(one, "page", 1, MAX_PAGE, 1)
    limit = _number(one, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT)
    return OverviewQuery(q, frozenset(statuses), sort, order, page, limit)


def _choice(given: dict[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    if name not in given:
        return default
    value = given[name].strip().lower()
    if value not in allowed:
        raise QueryError(f"{name} {given[name][:30]!a} is not one of {', '.join(allowed)}")
    return value


def _number(given: dict[str, str], name: str, lowest: int, highest: int, default: int) -> int:
    if name not in given:
        return default
    text = given[name].strip()
    # ASCII digits only: int() would take "١٢", "1_000" and "+5" too.
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(highest)):
        raise QueryError(
            f"{name} {given[name][:30]!a} is not a whole number from {lowest} to {highest}"
        )
    value = int(text)
    if not lowest <= value <= highest:
        raise QueryError(f"{name} {value} is out of range: give {lowest} to {highest}")
    return value
