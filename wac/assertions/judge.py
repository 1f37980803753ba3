"""Judging `assert:` conditions against what a check saw.

`judge` takes the conditions and an `Observed` (what the probe measured and, for HTTP,
the response's headers and body) and gives the first condition that fails as a
`CheckError` of kind `assertion`, whose message is the condition as written and the
actual value (bounded), or None when every condition holds.

Comparisons: `==` and `!=` compare a number with a number, `true`/`false` with a JSON
boolean, `null` with JSON null, a list or object with the value read as JSON, and text
with text. `<`, `<=`, `>`, `>=` need a number on both sides (a header such as
content-length counts when it is one). `contains` is a substring of a text, an element
of a list (compared as `==` does) or a member name of an object; `matches` searches an
RE2 regex in a text (or in any element of a list). A subject that is absent (no such
header, no value at the path, no certificate) holds only for `!=` and `!contains`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from wac.assertions.conditions import Condition
from wac.assertions.jsonpath import MISSING, resolve
from wac.result import CheckError

MAX_SHOWN_CHARS = 200
_NOT_JSON: Any = object()


@dataclass
class Observed:
    """What one check saw, as the conditions read it."""

    now: datetime
    status: int | None = None
    response_time_ms: float | None = None
    tls_expires_at: datetime | None = None
    headers: Mapping[str, str] | None = None  # names in lower case
    body: bytes | None = None
    dns_answers: list[str] | None = None
    dns_rcode: str | None = None
    _document: Any = MISSING

    def document(self) -> Any:
        """The body decoded as JSON (once); `_NOT_JSON` when it is not JSON."""
        if self._document is MISSING:
            try:
                self._document = msgspec.json.decode(self.body or b"")
            except Exception:  # not JSON, not UTF-8, too deep: all "not JSON"
                self._document = _NOT_JSON
        return self._document


def judge(conditions: tuple[Condition, ...], observed: Observed) -> CheckError | None:
    """The first condition that does not hold, as an `assertion` error; None if all do."""
    for condition in conditions:
        actual, why_absent = _actual(condition, observed)
        if not _holds(condition, actual):
            shown = why_absent if actual is MISSING else _show(condition, actual)
            return CheckError("assertion", f"{condition.text} failed: {shown}")
    return None


def _actual(condition: Condition, observed: Observed) -> tuple[Any, str]:
    """The subject's value (MISSING when there is none) and the words for its absence."""
    subject = condition.subject
    value: Any = MISSING
    absent = f"{condition.operand} is absent"
    if subject == "STATUS":
        value = observed.status if observed.status is not None else MISSING
        absent = "no HTTP status"
    elif subject == "HEADER":
        assert condition.header is not None
        headers = observed.headers or {}
        value = headers.get(condition.header, MISSING)
        absent = f"the response has no {condition.header} header"
    elif subject == "BODY":
        if condition.path is None:
            value = (observed.body or b"").decode("utf-8", "replace")
        else:
            document = observed.document()
            if document is _NOT_JSON:
                absent = "the body is not JSON"
            else:
                value = resolve(document, condition.path)
                absent = f"the body has no value at {condition.path.text() or 'its root'}"
    elif subject == "RESPONSE_TIME":
        value = observed.response_time_ms if observed.response_time_ms is not None else MISSING
        absent = "no response time"
    elif subject == "CERTIFICATE_EXPIRATION":
        expires = observed.tls_expires_at
        value = MISSING if expires is None else (expires - observed.now).total_seconds()
        absent = "no certificate was seen"
    elif subject == "DNS_ANSWERS":
        value = observed.dns_answers if observed.dns_answers is not None else MISSING
        absent = "no DNS answer"
    elif subject == "DNS_RCODE":
        value = observed.dns_rcode if observed.dns_rcode is not None else MISSING
        absent = "no DNS rcode"
    if condition.length and value is not MISSING:
        if isinstance(value, str | list | dict):
            value = len(value)
        else:
            absent = f"{condition.operand[4:-1]} has no length (it is {_show_plain(value)})"
            value = MISSING
    return value, absent


def _holds(condition: Condition, actual: Any) -> bool:
    operator = condition.operator
    if actual is MISSING:
        return operator in ("!=", "!contains")
    if operator == "==":
        return _equal(actual, condition)
    if operator == "!=":
        return not _equal(actual, condition)
    if operator == "contains":
        return _contains(actual, condition)
    if operator == "!contains":
        return not _contains(actual, condition)
    if operator == "matches":
        return _matches(actual, condition)
    number = _number(actual)
    if number is None or condition.number is None:
        return False
    if operator == "<":
        return number < condition.number
    if operator == "<=":
        return number <= condition.number
    if operator == ">":
        return number > condition.number
    return number >= condition.number


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _equal(actual: Any, condition: Condition) -> bool:
    expected = condition.value
    if isinstance(actual, bool):
        return expected == ("true" if actual else "false")
    if isinstance(actual, int | float):
        return condition.number is not None and float(actual) == condition.number
    if actual is None:
        return expected == "null"
    if isinstance(actual, str):
        return actual == expected
    try:
        return bool(json.loads(expected) == actual)
    except ValueError:
        return False


def _contains(actual: Any, condition: Condition) -> bool:
    if isinstance(actual, str):
        return condition.value in actual
    if isinstance(actual, list):
        return any(_equal(element, condition) for element in actual)
    if isinstance(actual, dict):
        return condition.value in actual
    return False


def _matches(actual: Any, condition: Condition) -> bool:
    assert condition.pattern is not None
    values = actual if isinstance(actual, list) else [actual]
    for value in values:
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            continue
        if condition.pattern.found(str(value).encode()):
            return True
    return False


def _show(condition: Condition, actual: Any) -> str:
    if condition.length:
        return f"{condition.operand} is {actual}"
    if condition.subject == "RESPONSE_TIME":
        return f"the response time is {actual:.1f} ms"
    if condition.subject == "CERTIFICATE_EXPIRATION":
        if actual < 0:
            return f"the certificate expired {-actual / 86400:.1f} days ago"
        return f"the certificate expires in {actual / 86400:.1f} days ({actual / 3600:.0f} h)"
    return f"{condition.operand} is {_show_plain(actual)}"


def _show_plain(value: Any) -> str:
    if isinstance(value, str):
        text = repr(value[: MAX_SHOWN_CHARS + 1])
    else:
        try:
            text = msgspec.json.encode(value).decode()
        except Exception:
            text = f"a {type(value).__name__} too deep to show"
    if len(text) > MAX_SHOWN_CHARS:
        text = text[: MAX_SHOWN_CHARS - 3] + "..."
    return text
