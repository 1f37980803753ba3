"""`assert:` conditions: their syntax, parsed once when the target is loaded.

A condition is `SUBJECT OPERATOR VALUE`, or `len(SUBJECT) OPERATOR VALUE`:

| subject | what it is | probes |
|---|---|---|
| `[STATUS]` | the HTTP status | http(s) |
| `[HEADER].name` | the response header `name` (any case; the last one) | http(s) |
| `[BODY]` | the body, as text | http(s) |
| `[BODY]path` | the value at a path in the JSON body (wac.assertions.jsonpath) | http(s) |
| `[RESPONSE_TIME]` | the response time in ms (the value may be a duration: `1.5s`) | all |
| `[CERTIFICATE_EXPIRATION]` | certificate time left, vs a duration (`14d`) | https, tls, tcp+tls |
| `[DNS_ANSWERS]` | the answers, in presentation form | dns |
| `[DNS_RCODE]` | the rcode: NOERROR, NXDOMAIN, ... | dns |

Operators: `==`, `!=`, `<`, `<=`, `>`, `>=`, `contains`, `!contains`, `matches` (an
RE2 regex, searched). The value is the rest of the text, white space trimmed at both
ends, or a JSON string in double quotes to keep white space or quotes. `len(...)` is the
number of characters of a text, elements of a list or members of an object.

A condition that does not parse, or whose subject a target's probe does not have, is
refused when the target is loaded (`ConditionError`, one line).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property

from wac import limits
from wac.assertions.jsonpath import Path, PathError, parse_path
from wac.patterns import BodyPattern, PatternError, compile_body_pattern
from wac.settings.durations import seconds_in

MAX_CONDITION_CHARS = 1024
MAX_CONDITIONS = 64
MAX_DURATION_S = 100 * 366 * 86400.0

OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "!contains", "contains", "matches")
ORDERING = frozenset({"<", "<=", ">", ">="})
TEXT_ONLY = frozenset({"contains", "!contains", "matches"})

HTTP = frozenset({"http", "https"})
# Which probes have each subject (`tls+`: tcp with `tls: true`).
SUBJECT_SCHEMES: dict[str, frozenset[str]] = {
    "STATUS": HTTP,
    "HEADER": HTTP,
    "BODY": HTTP,
    "RESPONSE_TIME": frozenset({"http", "https", "tcp", "tls", "dns", "icmp"}),
    "CERTIFICATE_EXPIRATION": frozenset({"https", "tls", "tcp+tls"}),
    "DNS_ANSWERS": frozenset({"dns"}),
    "DNS_RCODE": frozenset({"dns"}),
}
_SUBJECT = re.compile(r"\[([A-Z_]+)\]")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_OPERATOR = re.compile(r"\s+(==|!=|<=|>=|<|>|!contains|contains|matches)(?:\s+|$)")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,9})?")


class ConditionError(ValueError):
    """A condition that cannot be used; the text says why and how to write it."""


@dataclass(frozen=True)
class Condition:
    """One parsed condition. `text` is as written: failures name the condition by it."""

    text: str
    subject: str  # STATUS, HEADER, BODY, RESPONSE_TIME, ...
    operator: str
    value: str  # the expected value as written (a JSON string's content when quoted)
    header: str | None = None  # [HEADER].name: the name, lower case
    path: Path | None = None  # [BODY]path: the path (None: the body as text)
    length: bool = False  # len(...)
    number: float | None = None  # the value as a number (ms for RESPONSE_TIME, s for
    # CERTIFICATE_EXPIRATION) when it is one
    pattern: BodyPattern | None = field(default=None, compare=False, repr=False)

    @cached_property
    def operand(self) -> str:
        """The left side as written, for messages."""
        inner = f"[{self.subject}]"
        if self.header is not None:
            inner += f".{self.header}"
        if self.path is not None:
            inner += self.path.text()
        return f"len({inner})" if self.length else inner


def parse_conditions(raw: object) -> tuple[Condition, ...]:
    """The conditions of an `assert:` value (a list of strings, or one string)."""
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ConditionError("assert must list at least one condition")
    if len(items) > MAX_CONDITIONS:
        raise ConditionError(f"assert lists {len(items)} conditions; at most {MAX_CONDITIONS}")
    return tuple(parse_condition(item) for item in items)


def parse_condition(raw: object) -> Condition:
    """One condition; ConditionError naming it and what is wrong."""
    if not isinstance(raw, str):
        raise ConditionError(
            'assert: each condition is a string such as "[STATUS] == 200", got '
            + type(raw).__name__
        )
    text = raw.strip()
    if len(text) > MAX_CONDITION_CHARS:
        raise ConditionError(
            f"assert: a condition is at most {MAX_CONDITION_CHARS} characters long, "
            f"this one is {len(text)}"
        )
    if not text.isprintable():
        raise ConditionError(f"assert: condition {text!r} holds a control character")
    try:
        return _parse(text)
    except ConditionError as exc:
        raise ConditionError(f"assert: condition {_quoted(text)}: {exc}") from None


def _quoted(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _parse(text: str) -> Condition:
    length = text.startswith("len(")
    body = text[4:] if length else text
    subject_match = _SUBJECT.match(body)
    if subject_match is None:
        raise ConditionError(
            "it must start with a subject such as [STATUS], [BODY].path, [HEADER].name or "
            "len([BODY]...)"
        )
    subject = subject_match.group(1)
    if subject not in SUBJECT_SCHEMES:
        raise ConditionError(
            f"unknown subject [{subject}]: use one of "
            + ", ".join(f"[{name}]" for name in SUBJECT_SCHEMES)
        )
    rest = body[subject_match.end() :]
    operator_match = _find_operator(rest, length)
    if operator_match is None:
        raise ConditionError(
            "no operator: write SUBJECT OPERATOR VALUE, the operator one of "
            + ", ".join(OPERATORS)
            + ", with white space around it"
        )
    accessor = rest[: operator_match.start()]
    if length:
        if not accessor.endswith(")"):
            raise ConditionError("len( has no closing parenthesis before the operator")
        accessor = accessor[:-1]
    operator = operator_match.group(1)
    written = rest[operator_match.end() :]
    if not written.strip() and operator not in ("==", "!="):
        raise ConditionError(f"{operator} needs a value after it")
    value = _value(written)
    header, path = _accessor(subject, accessor)
    condition = Condition(
        text=text,
        subject=subject,
        operator=operator,
        value=value,
        header=header,
        path=path,
        length=length,
    )
    return _typed(condition)


def _find_operator(rest: str, length: bool) -> re.Match[str] | None:
    """The operator: the first one outside a quoted path step."""
    in_quote: str | None = None
    at = 0
    while at < len(rest):
        char = rest[at]
        if in_quote is not None:
            if char == "\\" and in_quote == '"':
                at += 2
                continue
            if char == in_quote:
                in_quote = None
        elif char in "\"'" and at > 0 and rest[at - 1] == "[":
            in_quote = char
        elif char.isspace():
            match = _OPERATOR.match(rest, at)
            if match is not None:
                return match
        at += 1
    return None


def _value(raw: str) -> str:
    value = raw.strip()
    if value.startswith('"'):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            raise ConditionError(
                "a value that starts with a double quote is a JSON string: close it, and "
                'escape quotes inside as \\"'
            ) from None
        if not isinstance(decoded, str):
            raise ConditionError("a value that starts with a double quote is a JSON string")
        return decoded
    return value


def _accessor(subject: str, accessor: str) -> tuple[str | None, Path | None]:
    if subject == "HEADER":
        if not accessor.startswith(".") or not _HEADER_NAME.fullmatch(accessor[1:]):
            raise ConditionError("[HEADER] is followed by .name, a header name: [HEADER].etag")
        return accessor[1:].lower(), None
    if subject == "BODY":
        if not accessor:
            return None, None
        try:
            return None, parse_path(accessor)
        except PathError as exc:
            raise ConditionError(f"[BODY]{accessor[:40]}: {exc}") from None
    if accessor:
        raise ConditionError(f"[{subject}] takes nothing after it, found {accessor[:40]!r}")
    return None, None


def _typed(condition: Condition) -> Condition:
    """Check that the operator and the value make sense for the subject; keep the number."""
    subject, operator, value = condition.subject, condition.operator, condition.value
    numeric = condition.length or subject in ("STATUS", "RESPONSE_TIME", "CERTIFICATE_EXPIRATION")
    number: float | None = None
    if operator == "matches":
        if numeric:
            raise ConditionError(f"matches applies to text, not to {condition.operand}")
        try:
            if len(value) > limits.MAX_PATTERN_CHARS:
                raise PatternError(f"at most {limits.MAX_PATTERN_CHARS} characters")
            pattern = compile_body_pattern(value)
        except PatternError as exc:
            raise ConditionError(f"{value[:60]!r} is not a valid regex for RE2: {exc}") from None
        return _replace(condition, pattern=pattern)
    if operator in TEXT_ONLY and numeric:
        raise ConditionError(f"{operator} applies to text and lists, not to {condition.operand}")
    if subject == "DNS_ANSWERS" and not condition.length and operator not in TEXT_ONLY:
        raise ConditionError(
            "[DNS_ANSWERS] is a list: use contains, !contains or matches (or len([DNS_ANSWERS]))"
        )
    if subject == "CERTIFICATE_EXPIRATION":
        number = _duration(value)
        if number is None:
            raise ConditionError(
                "[CERTIFICATE_EXPIRATION] compares with a duration such as 48h or 14d, "
                f"not {value[:40]!r}"
            )
    elif subject == "RESPONSE_TIME" and not condition.length:
        if _NUMBER.fullmatch(value):
            number = float(value)
        elif (seconds := _duration(value)) is not None:
            number = seconds * 1000
        else:
            raise ConditionError(
                f"[RESPONSE_TIME] compares with milliseconds (300) or a duration (1.5s), "
                f"not {value[:40]!r}"
            )
    elif numeric:
        if not _NUMBER.fullmatch(value):
            raise ConditionError(f"{condition.operand} compares with a number, not {value[:40]!r}")
        number = float(value)
    elif _NUMBER.fullmatch(value):
        number = float(value)
    if operator in ORDERING and number is None:
        raise ConditionError(f"{operator} compares numbers: {value[:40]!r} is not one")
    return _replace(condition, number=number)


def _duration(text: str) -> float | None:
    """Seconds of a duration with its unit, at most 100 years; None otherwise."""
    seconds = seconds_in(text, bare=False)
    return seconds if seconds is not None and seconds <= MAX_DURATION_S else None


def _replace(condition: Condition, **changes: object) -> Condition:
    from dataclasses import replace

    return replace(condition, **changes)  # type: ignore[arg-type]


def check_applies(conditions: tuple[Condition, ...], scheme: str, *, tls: bool = False) -> None:
    """ConditionError when a condition's subject is not something `scheme`'s probe has."""
    have = {scheme, "tcp+tls"} if scheme == "tcp" and tls else {scheme}
    for condition in conditions:
        allowed = SUBJECT_SCHEMES[condition.subject]
        if not have & allowed:
            names = ", ".join(
                "tcp with tls: true" if s == "tcp+tls" else f"{s}://" for s in sorted(allowed)
            )
            raise ConditionError(
                f"assert: condition {_quoted(condition.text)}: [{condition.subject}] is "
                f"measured by {names} targets only, not {scheme}://"
            )
