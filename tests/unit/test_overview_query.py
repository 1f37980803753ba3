"""The query of /api/overview (search, status filter, sort, page): what it takes, what it
refuses, and that any input is a query or one QueryError, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wac.web.overview_query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_PAGE,
    MAX_SEARCH,
    PARAMETERS,
    SORTS,
    STATUSES,
    OverviewQuery,
    QueryError,
    parse_overview_query,
)


def test_no_parameters_is_the_first_page_failing_first() -> None:
    query = parse_overview_query([])
    assert query == OverviewQuery()
    assert (query.sort, query.order, query.page) == ("status", "asc", 1)
    assert query.limit == DEFAULT_LIMIT == 50
    assert query.statuses == frozenset() and query.q == "" and query.offset == 0


def test_every_parameter_read() -> None:
    query = parse_overview_query(
        [
            ("q", "  Shop   EU "),
            ("status", "down,Unknown"),
            ("status", "down"),
            ("sort", "uptime_30d"),
            ("order", "DESC"),
            ("page", "3"),
            ("limit", "20"),
        ]
    )
    assert query.q == "Shop EU"  # whitespace runs are one space
    assert query.statuses == {"down", "unknown"}
    assert (query.sort, query.order, query.page, query.limit) == ("uptime_30d", "desc", 3, 20)
    assert query.offset == 40
    assert query.to_json() == {
        "q": "Shop EU",
        "status": ["down", "unknown"],
        "sort": "uptime_30d",
        "order": "desc",
        "page": 3,
        "limit": 20,
    }


@pytest.mark.parametrize(
    ("items", "says"),
    [
        ([("page", "0")], "page 0 is out of range"),
        ([("page", str(MAX_PAGE + 1))], "page"),
        ([("page", "-1")], "page '-1' is not a whole number"),
        ([("page", "1.5")], "page"),
        ([("page", "+2")], "page"),
        ([("page", "1_0")], "page"),
        ([("page", "\u0661")], "page"),  # an Arabic-Indic digit
        ([("page", "9" * 400)], "page"),
        ([("limit", "0")], "limit 0 is out of range"),
        ([("limit", str(MAX_LIMIT + 1))], f"give 1 to {MAX_LIMIT}"),
        ([("limit", "")], "limit '' is not a whole number"),
        ([("sort", "uptime")], "sort 'uptime' is not one of status, name"),
        ([("sort", "")], "sort"),
        ([("order", "up")], "order 'up' is not one of asc, desc"),
        ([("status", "broken")], "status 'broken' is not one of up, down, unknown"),
        ([("status", "up,")], "status '' is not one of"),
        ([("q", "x" * (MAX_SEARCH + 1))], f"at most {MAX_SEARCH}"),
        ([("page", "1"), ("page", "2")], "give page once"),
        ([("q", "a"), ("q", "b")], "give q once"),
        ([("name", "shop")], "unknown parameter 'name': /api/overview takes q, status"),
        ([("", "x")], "unknown parameter ''"),
    ],
)
def test_bad_values_name_the_parameter_and_what_it_takes(
    items: list[tuple[str, str]], says: str
) -> None:
    with pytest.raises(QueryError) as refused:
        parse_overview_query(items)
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)


names = st.sampled_from([*PARAMETERS, "x", ""]) | st.text(max_size=10)
values = (
    st.text(max_size=40)
    | st.sampled_from([*SORTS, *STATUSES, "asc", "desc", "down,up", "1", "500", "501"])
    | st.integers(-(10**9), 10**9).map(str)
)


@settings(max_examples=500, deadline=None)
@given(items=st.lists(st.tuples(names, values), max_size=8))
def test_any_parameters_are_a_valid_query_or_one_clear_error(
    items: list[tuple[str, str]],
) -> None:
    try:
        query = parse_overview_query(items)
    except QueryError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 300
        return
    assert {name for name, _ in items} <= set(PARAMETERS)
    assert query.sort in SORTS and query.order in ("asc", "desc")
    assert query.statuses <= set(STATUSES)
    assert 1 <= query.page <= MAX_PAGE and 1 <= query.limit <= MAX_LIMIT
    assert len(query.q) <= MAX_SEARCH and query.q == query.q.strip()
    assert query.offset == (query.page - 1) * query.limit
    # What it says it read is read back the same.
    again = query.to_json()
    statuses = again["status"]
    assert isinstance(statuses, list)
    echoed = [
        ("q", str(again["q"])),
        ("status", ",".join(statuses)),
        ("sort", str(again["sort"])),
        ("order", str(again["order"])),
        ("page", str(again["page"])),
        ("limit", str(again["limit"])),
    ]
    reread = parse_overview_query([(k, v) for k, v in echoed if not (k == "status" and not v)])
    assert reread == query


@settings(max_examples=200, deadline=None)
@given(page=st.integers(1, MAX_PAGE - 1), limit=st.integers(1, MAX_LIMIT))
def test_consecutive_pages_meet_without_overlap(page: int, limit: int) -> None:
    this = parse_overview_query([("page", str(page)), ("limit", str(limit))])
    following = parse_overview_query([("page", str(page + 1)), ("limit", str(limit))])
    assert this.offset + this.limit == following.offset
    assert parse_overview_query([("limit", str(limit))]).offset == 0
