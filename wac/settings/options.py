"""Command-line options built from the variables they mirror.

`option(WAC_WEB_PORT, "--port")` is a click option whose help is the variable's meaning,
its default and its name: written once, in wac.settings.variables. The option arrives in
the command as the text given (None when absent); the command resolves it with
`VARIABLE.pick(value, "--port", env)`, so a bad value is one line naming the option, a
bad variable one naming the variable, both parsed by the same parser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from wac.settings.variables import Variable

F = TypeVar("F", bound=Callable[..., Any])


def plain(text: str) -> str:
    """Markdown's code marks dropped, for a terminal."""
    return text.replace("`", "")


def help_text(variable: Variable[Any], extra: str = "") -> str:
    meaning = plain(variable.meaning)
    meaning = meaning[0].upper() + meaning[1:]
    more = f" {extra}" if extra else ""
    return f"{meaning}.{more} Default: {plain(variable.shown_default)} (or {variable.name})."


def option(
    variable: Variable[Any], *flags: str, metavar: str | None = None, extra: str = ""
) -> Callable[[F], F]:
    """A click option mirroring `variable`; its value is the text given, or None."""
    return click.option(
        *flags,
        default=None,
        metavar=metavar or flags[0].lstrip("-").upper().replace("-", "_"),
        help=help_text(variable, extra),
    )
