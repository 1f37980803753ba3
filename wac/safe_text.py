"""Text from outside (target names, URLs, error messages) made safe to show.

Invisible controls can make a name read as something else: a right-to-left override
(U+202E) shows `bank\u202egpj.exe` as "bankexe.jpg", a zero-width space makes two names
look equal, a newline or an escape sequence rewrites a terminal's lines. Every such
character (Unicode categories Cc, Cf, Zl and Zp) is shown as its escape, `\\u202e`. The
dashboard's script (wac/web/static/app.js, `visible`) applies the same rule.
"""

from __future__ import annotations

import unicodedata

HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def visible(text: str) -> str:
    """`text` with every invisible control written as a visible escape (`\\u202e`)."""
    if text.isprintable():
        return text
    return "".join(_escape(c) if unicodedata.category(c) in HIDDEN_CATEGORIES else c for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
