"""The JSONPath subset of `assert:` conditions: where in a JSON body a value is.

A path follows `[BODY]` and is a sequence of steps, each one of:

- `.name`: the member `name` of an object; `name` is letters, digits, `_` and `-`;
- `["name"]` (or `['name']`): any member name, written as a JSON string (double
  quotes, with JSON's escapes) or between single quotes (no escapes, no `'` inside);
- `[n]`: the element `n` of an array, from 0; a negative `n` counts from the end
  (`[-1]` is the last element).

The empty path is the whole document. Nothing else of JSONPath is supported
(no `$`, `..`, `*`, filters or slices): a path has one value or none.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_STEPS = 64
MAX_INDEX_DIGITS = 9
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_INDEX = re.compile(rf"-?[0-9]{{1,{MAX_INDEX_DIGITS}}}")
_JSON_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"')
_SINGLE_QUOTED = re.compile(r"'[^'\x00-\x1f]*'")


class PathError(ValueError):
    """A path outside the subset; the text says where and what is allowed."""


@dataclass(frozen=True)
class Path:
    steps: tuple[str | int, ...]  # member names (str) and array indexes (int)

    def text(self) -> str:
        """The path written back (names that `.name` cannot hold in brackets)."""
        return "".join(format_step(step) for step in self.steps)


def format_step(step: str | int) -> str:
    if isinstance(step, int):
        return f"[{step}]"
    if _NAME.fullmatch(step):
        return f".{step}"
    return f"[{json.dumps(step)}]"


def parse_path(text: str) -> Path:
    """The steps of `text` (which may be empty); PathError saying what is wrong."""
    steps: list[str | int] = []
    at = 0
    while at < len(text):
        if len(steps) >= MAX_STEPS:
            raise PathError(f"a path has at most {MAX_STEPS} steps")
        char = text[at]
        if char == ".":
            match = _NAME.match(text, at + 1)
            if match is None:
                raise PathError(
                    f"after '.' at character {at + 1} comes a member name (letters, digits, "
                    '_ and -); write other names as ["name"]'
                )
            steps.append(match.group())
            at = match.end()
        elif char == "[":
            at = _bracket(text, at + 1, steps)
        else:
            raise PathError(
                f"unexpected {char!r} at character {at + 1}: a path is made of .name, "
                '["name"] and [index] steps'
            )
    return Path(tuple(steps))


def _bracket(text: str, at: int, steps: list[str | int]) -> int:
    """Parse what follows `[`; the position after the closing `]`."""
    if (match := _INDEX.match(text, at)) is not None:
        value: str | int = int(match.group())
    elif (match := _JSON_STRING.match(text, at)) is not None:
        value = json.loads(match.group())
    elif (match := _SINGLE_QUOTED.match(text, at)) is not None:
        value = match.group()[1:-1]
    else:
        raise PathError(
            f"after '[' at character {at} comes an index ([0], [-1]) or a quoted member "
            'name (["name"])'
        )
    end = match.end()
    if end >= len(text) or text[end] != "]":
        raise PathError(f"missing ']' at character {end + 1}")
    steps.append(value)
    return end + 1


MISSING: Any = object()  # what a path that leads nowhere resolves to


def resolve(document: Any, path: Path) -> Any:
    """The value at `path` in a decoded JSON document; MISSING when there is none."""
    value = document
    for step in path.steps:
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return MISSING
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return MISSING
            value = value[step]
    return value
