"""Exception classes shared by every wac service.

Each carries a message meant for a person: what was wrong and how to fix it.
The command line turns them into one line on stderr and an exit code.
"""


class WacError(Exception):
    """Base class of every error wac reports to its user."""

    exit_code = 1


class ConfigError(WacError):
    """Bad usage or configuration: a setting, a targets file entry, a certificate."""

    exit_code = 2


class ServiceUnavailable(WacError):
    """A broker or database that could not be reached or refused us at start-up."""

    exit_code = 2


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its class name when it has none.

    Never empty and never more than one line, whatever the message holds: text that is
    only white space or line breaks gives the class name, as does a message that cannot
    even be turned into text.
    """
    try:
        text = str(exc).strip()
    except Exception:  # an exception whose __str__ raises
        text = ""
    return text.splitlines()[0] if text else type(exc).__name__


def described(exc: BaseException, limit: int = 300) -> str:
    """An unexpected exception in one line: its class, then its first line (cut at `limit`)."""
    name = type(exc).__name__
    line = first_line(exc)
    if len(line) > limit:
        line = line[: limit - 3] + "..."
    return name if line == name else f"{name}: {line}"
