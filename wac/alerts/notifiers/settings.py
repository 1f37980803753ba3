"""Reading a vendor notifier's settings: secrets from the environment, endpoints, choices."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from wac.alerts.notifiers import from_env
from wac.alerts.notifiers.http import endpoint
from wac.errors import ConfigError

_T = TypeVar("_T")
_KEY_PREFIX = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def required_secret(
    spec: Mapping[str, Any], key: str, env: Mapping[str, str], where: str, what: str
) -> str:
    """The value of the variable `<key>_env` names; `<key>` itself in the file is refused."""
    if key in spec:
        raise ConfigError(
            f"{where}: put the {what} in the environment and name it in {key}_env, "
            f"not in the file as {key}"
        )
    if spec.get(f"{key}_env") is None:
        raise ConfigError(
            f"{where}: {key}_env is required: the name of the environment variable "
            f"that holds the {what}"
        )
    value = from_env(spec, f"{key}_env", env, where)
    assert value is not None  # from_env refuses a missing or empty variable, and None is out
    return value


def optional_secret(
    spec: Mapping[str, Any], key: str, env: Mapping[str, str], where: str, what: str
) -> str | None:
    if key in spec:
        raise ConfigError(
            f"{where}: put the {what} in the environment and name it in {key}_env, "
            f"not in the file as {key}"
        )
    return from_env(spec, f"{key}_env", env, where)


def webhook_url(spec: Mapping[str, Any], env: Mapping[str, str], where: str, what: str) -> str:
    """A webhook URL that is its own credential: only through `url_env`."""
    if "url" in spec:
        raise ConfigError(
            f"{where}: the {what} carries its token, so it does not belong in the file: "
            "put it in the environment and name it in url_env"
        )
    url = required_secret(spec, "url", env, where, what)
    return endpoint(url, where, "the URL in url_env", secret_url=True)


def api_url(spec: Mapping[str, Any], default: str, where: str, *, sends_secret: bool) -> str:
    return endpoint(
        spec.get("api_url", default), where, "api_url", secret_url=False, sends_secret=sends_secret
    )


def choice(
    spec: Mapping[str, Any], key: str, options: Mapping[Any, _T], default: Any, where: str
) -> _T:
    """`spec[key]` (or `default`) looked up in `options`, named in the error when absent."""
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, str | int) or value not in options:
        allowed = ", ".join(str(option) for option in options)
        raise ConfigError(f"{where}: {key} must be one of {allowed}, got {value!r}")
    return options[value]


def optional_text(spec: Mapping[str, Any], key: str, where: str, limit: int) -> str | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ConfigError(
            f"{where}: {key} must be a non-empty string of at most {limit} characters"
        )
    return value


def text_list(spec: Mapping[str, Any], key: str, where: str, *, most: int, limit: int) -> list[str]:
    value = spec.get(key, [])
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or len(value) > most
        or not all(isinstance(v, str) and v.strip() and len(v) <= limit for v in value)
    ):
        raise ConfigError(
            f"{where}: {key} must be a list of at most {most} strings of at most {limit} characters"
        )
    return list(value)


def key_prefix(spec: Mapping[str, Any], where: str) -> str:
    """What the vendor's deduplication keys start with (one wac deployment, one prefix)."""
    value = spec.get("key_prefix", "wac-")
    if not isinstance(value, str) or not _KEY_PREFIX.match(value):
        raise ConfigError(
            f"{where}: key_prefix must be 1 to 64 letters, digits or . _ : -, got {value!r}"
        )
    return value


def whole_number(
    spec: Mapping[str, Any], key: str, where: str, low: int, high: int, default: int | None
) -> int | None:
    value = spec.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(
            f"{where}: {key} must be a whole number from {low} to {high}, got {value!r}"
        )
    return value


def names(options: Sequence[str]) -> dict[str, str]:
    return {option: option for option in options}
