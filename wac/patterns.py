"""Body patterns: RE2 regular expressions, matched in time linear in the body.

Python's `re` backtracks: `(a+)+$` against forty `a`s and a `!` runs for hours and holds
the interpreter while it does. RE2 (Google's engine, the one Go's regexp follows and
blackbox_exporter and Gatus use) never backtracks, so a pattern costs at most a
constant per byte of body, and releases the GIL while it matches. Its syntax is Perl's
without backreferences and lookaround; a pattern it cannot compile is refused when
the targets file is read, with RE2's reason.

The body is matched as bytes, in UTF-8 mode: no decoding, no copy. Bytes that are not
valid UTF-8 match no character class (not even `.`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

# RE2 refuses patterns whose compiled program would need more (e.g. `\pL{100}`), and
# its DFA falls back to the slower, still linear, NFA rather than grow past it.
MAX_PATTERN_MEMORY = 2 * 1024 * 1024


class PatternError(ValueError):
    """RE2 cannot compile the pattern; the message is RE2's reason."""


class BodyPattern:
    """A compiled pattern; `found(body)` says whether it occurs anywhere in the body."""

    __slots__ = ("_regex", "text")

    def __init__(self, text: str, regex: Any) -> None:
        self.text = text
        self._regex = regex

    def found(self, body: bytes) -> bool:
        return self._regex.search(body) is not None

    def __repr__(self) -> str:
        return f"BodyPattern({self.text!r})"


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.max_mem = MAX_PATTERN_MEMORY
    options.never_capture = True  # only whether it matches counts
    return options


_OPTIONS = _options()


@lru_cache(maxsize=4096)  # many targets share a pattern: compile it once
def compile_body_pattern(text: str) -> BodyPattern:
    """The compiled pattern; PatternError with RE2's reason when it cannot be compiled."""
    try:
        return BodyPattern(text, re2.compile(text, _OPTIONS))
    except re2.error as exc:
        raise PatternError(_reason(exc)) from None
    except UnicodeEncodeError:
        raise PatternError("it holds a character that is not valid Unicode") from None


def _reason(exc: Exception) -> str:
    reason = exc.args[0] if exc.args else "not a valid pattern"
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", errors="replace")
    return " ".join(str(reason).split())
