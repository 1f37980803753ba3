"""`assert:` conditions: the syntax, the JSONPath subset (properties), and the verdicts."""

from __future__ import annotations

import json
import re
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wac.assertions import ConditionError, Observed, judge, parse_condition, parse_conditions
from wac.assertions.conditions import OPERATORS
from wac.assertions.jsonpath import MISSING, Path, PathError, format_step, parse_path, resolve

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

# -- the JSONPath subset -----------------------------------------------------------------

NAMES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
STEPS = st.lists(st.one_of(NAMES, st.integers(-999, 999)), max_size=8)


@settings(max_examples=300, deadline=None)
@given(steps=STEPS)
def test_a_path_written_back_parses_to_the_same_steps(steps: list[str | int]) -> None:
    text = Path(tuple(steps)).text()
    assert parse_path(text).steps == tuple(steps)


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet=string.printable + "é\u202e", max_size=40))
def test_any_text_is_a_path_or_a_path_error(text: str) -> None:
    try:
        path = parse_path(text)
    except PathError:
        return
    assert parse_path(path.text()) == path  # what parses, writes back to the same path


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=4),
    max_leaves=20,
)


@st.composite
def documents_and_walks(draw: st.DrawFn) -> tuple[Any, list[str | int], Any]:
    """A JSON document, a walk into it (the steps taken) and the value reached."""
    document = draw(JSON_VALUES)
    value: Any = document
    steps: list[str | int] = []
    while isinstance(value, list | dict) and value and draw(st.booleans()):
        if isinstance(value, list):
            index = draw(st.integers(-len(value), len(value) - 1))
            steps.append(index)
            value = value[index]
        else:
            key = draw(st.sampled_from(sorted(value)))
            steps.append(key)
            value = value[key]
    return document, steps, value


@settings(max_examples=300, deadline=None)
@given(walk=documents_and_walks())
def test_a_path_resolves_to_the_value_its_walk_reaches(
    walk: tuple[Any, list[str | int], Any],
) -> None:
    document, steps, value = walk
    path = parse_path("".join(format_step(s) for s in steps))
    assert resolve(document, path) == value
    # one step more into a scalar, or out of range, resolves to nothing
    assert resolve(document, Path((*path.steps, 10**6))) is MISSING


def test_path_forms() -> None:
    assert parse_path('.a["b c"][0][-1].d_e-f').steps == ("a", "b c", 0, -1, "d_e-f")
    assert parse_path("['x y']").steps == ("x y",)
    for bad, fragment in [
        ("a", "unexpected 'a' at character 1"),
        ("..a", "after '.' at character 1"),
        ("[", "after '[' at character 1"),
        ("[1", "missing ']'"),
        ("[*]", "an index ([0], [-1]) or a quoted member"),
        ("." + ".a" * 70, "after '.'"),
        (".a" * 70, "at most 64 steps"),
    ]:
        with pytest.raises(PathError, match=re.escape(fragment)):
            parse_path(bad)


# -- the condition syntax ------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(
    text=st.text(max_size=80)
    | st.builds(
        "{}{}".format,
        st.sampled_from(
            ["[STATUS] ", "[BODY]", "len([BODY]", "[HEADER].", "[DNS_ANSWERS] ", "[RESPONSE_TIME] "]
        ),
        st.text(max_size=40),
    )
)
def test_any_text_is_a_condition_or_one_line(text: str) -> None:
    try:
        condition = parse_condition(text)
    except ConditionError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("assert: ")
        return
    assert condition.operator in OPERATORS
    assert parse_condition(condition.text) == condition


@settings(max_examples=200, deadline=None)
@given(
    steps=STEPS,
    operator=st.sampled_from(["==", "!=", "contains", "!contains"]),
    value=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=20
    ),
)
def test_body_conditions_keep_their_path_and_value(
    steps: list[str | int], operator: str, value: str
) -> None:
    text = f"[BODY]{Path(tuple(steps)).text()} {operator} {json.dumps(value)}"
    if len(text) > 1024:
        return
    condition = parse_condition(text)
    assert condition.path == (Path(tuple(steps)) if steps else None)  # None: the body as text
    assert (condition.operator, condition.value) == (operator, value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[STATUS] = 200", "no operator"),
        ("[STATUS]==200", "no operator"),
        ("STATUS == 200", "must start with a subject"),
        ("[UPTIME] > 1", "unknown subject [UPTIME]"),
        ("[STATUS] == OK", "[STATUS] compares with a number, not 'OK'"),
        ("[STATUS] matches 2..", "matches applies to text, not to [STATUS]"),
        ("[RESPONSE_TIME] < fast", "[RESPONSE_TIME] compares with milliseconds"),
        ("[CERTIFICATE_EXPIRATION] > 2", "compares with a duration such as 48h"),
        ("[HEADER] == x", "[HEADER] is followed by .name"),
        ("[HEADER].a b == x", "[HEADER] is followed by .name"),
        ("[BODY].a > b", "> compares numbers: 'b' is not one"),
        ("[BODY] matches (x", "'(x' is not a valid regex for RE2"),
        ('[BODY] == "open', "a value that starts with a double quote is a JSON string"),
        ("[DNS_RCODE].x == 1", "[DNS_RCODE] takes nothing after it"),
        ("[DNS_ANSWERS] == 1.2.3.4", "[DNS_ANSWERS] is a list: use contains"),
        ("len([BODY] == 1", "len( has no closing parenthesis"),
        ("len([BODY]) == many", "len([BODY]) compares with a number"),
        ("[BODY] contains", "contains needs a value after it"),
        ("[BODY] == \x01", "holds a control character"),
    ],
)
def test_bad_conditions_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(text)
    assert fragment in str(caught.value), str(caught.value)


def test_assert_takes_a_list_or_one_string_and_bounds_both() -> None:
    assert len(parse_conditions("[STATUS] == 200")) == 1
    with pytest.raises(ConditionError, match="at most 64"):
        parse_conditions(["[STATUS] == 200"] * 65)
    with pytest.raises(ConditionError, match="at most 1024 characters"):
        parse_condition("[BODY] contains " + "x" * 1100)
    with pytest.raises(ConditionError, match="got int"):
        parse_conditions([200])


# -- the verdicts ---------------------------------------------------------------------------

BODY = json.dumps(
    {"status": "UP", "n": 3, "ok": True, "none": None, "tags": ["a", "b"], "deep": {"x": [1, 2]}}
).encode()


def verdict(text: str, **observed: Any) -> str | None:
    error = judge(parse_conditions([text]), Observed(now=NOW, **observed))
    assert error is None or error.kind == "assertion"
    return None if error is None else error.message


@pytest.mark.parametrize(
    "text",
    [
        "[BODY].status == UP",
        "[BODY].n == 3",
        "[BODY].n >= 3.0",
        "[BODY].ok == true",
        "[BODY].none == null",
        "[BODY].tags contains b",
        '[BODY].tags == ["a","b"]',
        "[BODY].deep contains x",
        "[BODY].deep.x[-1] < 3",
        "len([BODY].tags) == 2",
        "[BODY].missing != 1",
        '[BODY] contains "status"',
        "[BODY] matches n.: ?3",
        "[BODY].status !contains DOWN",
    ],
)
def test_json_body_conditions_that_hold(text: str) -> None:
    assert verdict(text, body=BODY) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[BODY].status == DOWN", "[BODY].status == DOWN failed: [BODY].status is 'UP'"),
        ("[BODY].n < 3", "[BODY].n < 3 failed: [BODY].n is 3"),
        ("[BODY].ok == false", "[BODY].ok is true"),
        ("[BODY].missing == 1", "the body has no value at .missing"),
        ("[BODY].tags[5] == a", "the body has no value at .tags[5]"),
        ("len([BODY].n) > 0", "[BODY].n has no length (it is 3)"),
        ("[BODY].status > 1", "[BODY].status is 'UP'"),
    ],
)
def test_json_body_conditions_that_fail_name_themselves(text: str, message: str) -> None:
    assert message in (verdict(text, body=BODY) or "")


def test_a_body_that_is_not_json() -> None:
    assert verdict("[BODY].a == 1", body=b"<html>") == "[BODY].a == 1 failed: the body is not JSON"
    assert verdict("[BODY].a != 1", body=b"<html>") is None


def test_the_actual_value_shown_is_bounded() -> None:
    message = verdict("[BODY] == x", body=b"y" * 100_000) or ""
    assert len(message) < 300 and message.endswith("...")


def test_status_header_time_certificate_and_dns() -> None:
    assert verdict("[STATUS] < 300", status=204) is None
    assert verdict("[STATUS] == 200", status=503) == "[STATUS] == 200 failed: [STATUS] is 503"
    headers = {"content-type": "application/json", "content-length": "120"}
    assert verdict("[HEADER].Content-Type == application/json", headers=headers) is None
    assert verdict("[HEADER].content-length > 100", headers=headers) is None
    assert "has no etag header" in (verdict("[HEADER].etag == x", headers=headers) or "")
    assert verdict("[RESPONSE_TIME] < 1.5s", response_time_ms=1200.0) is None
    assert "the response time is 1200.0 ms" in (
        verdict("[RESPONSE_TIME] < 300", response_time_ms=1200.0) or ""
    )
    expires = NOW + timedelta(days=3)
    assert verdict("[CERTIFICATE_EXPIRATION] > 48h", tls_expires_at=expires) is None
    assert "expires in 3.0 days" in (
        verdict("[CERTIFICATE_EXPIRATION] > 14d", tls_expires_at=expires) or ""
    )
    assert "no certificate was seen" in (verdict("[CERTIFICATE_EXPIRATION] > 1d") or "")
    answers = ["10.0.0.1", "10.0.0.2"]
    assert verdict("[DNS_ANSWERS] contains 10.0.0.1", dns_answers=answers) is None
    assert verdict("[DNS_ANSWERS] matches ^10\\.0\\.0\\.2$", dns_answers=answers) is None
    assert verdict("len([DNS_ANSWERS]) == 2", dns_answers=answers) is None
    assert '["10.0.0.1","10.0.0.2"]' in (
        verdict("[DNS_ANSWERS] contains 10.9.9.9", dns_answers=answers) or ""
    )
    assert verdict("[DNS_RCODE] == NOERROR", dns_rcode="NOERROR") is None


def test_the_first_failing_condition_is_the_one_named() -> None:
    conditions = parse_conditions(["[STATUS] == 200", "[BODY].n == 4", "[BODY].status == x"])
    error = judge(conditions, Observed(now=NOW, status=200, body=BODY))
    assert error is not None and error.message.startswith("[BODY].n == 4 failed")
