"""The environment every command reads: the process environment over `.env`.

`load_environment()` is the one merge: the `.env` file of the current folder (if there
is one), then the process environment on top, so a variable set in the shell wins. Every
command reads its settings from this merge and hands it to the processes it starts, so a
setting in `.env` counts as much as one exported in the shell: for the services, the
local services (`WAC_HOME`, `WAC_KAFKA_PORT`, ...) and `wac up`'s children alike.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from wac.errors import ConfigError

ENV_FILE = Path(".env")


def load_environment(env_file: Path | None = None) -> dict[str, str]:
    """The process environment over the `.env` file: a variable set in the shell wins."""
    merged = dotenv_file(env_file if env_file is not None else ENV_FILE)
    merged.update(os.environ)
    return merged


def dotenv_file(path: Path) -> dict[str, str]:
    """The variables `path` sets ({} when there is no such file)."""
    if not path.is_file():
        return {}
    try:
        with path.open(encoding="utf-8") as stream:
            found = dotenv_values(stream=stream)
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read ({exc.strerror}): fix its permissions") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text: save it as UTF-8") from None
    return {name: value for name, value in found.items() if value is not None}


def given(env: Mapping[str, str], name: str) -> bool:
    """True when the user set `name` (in the shell or `.env`) to something not blank."""
    return bool(env.get(name, "").strip())
