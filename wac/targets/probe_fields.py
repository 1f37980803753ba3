"""The parsers of the fields beyond HTTP's first ones: request body, credentials, client
certificate, protocol and IP versions (HTTP), the other probes' options (tcp, tls, dns,
icmp), heartbeats (push) and `assert:`. Their rows are in `wac.targets.fields.FIELDS`.

Each parser takes the raw value and the place it is at (for messages) and gives the
typed value or a one-line ConfigError naming the field. Values from the environment
(credentials, push tokens) are never quoted in a message.
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Mapping
from typing import Any

from wac import limits
from wac.assertions import Condition, ConditionError, parse_conditions
from wac.errors import ConfigError
from wac.settings.durations import parse_duration
from wac.settings.environment import load_environment
from wac.targets.options import TLS_VERSION_NAMES
from wac.yaml_config import shown

MAX_REQUEST_BODY_BYTES = 1024 * 1024
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def parse_body(raw: object, where: str) -> str:
    if not isinstance(raw, str):
        raise ConfigError(f"{where}: body must be text (for JSON data use `json:`)")
    size = len(raw.encode())
    if size > MAX_REQUEST_BODY_BYTES:
        raise ConfigError(
            f"{where}: body is {size} bytes long; at most {MAX_REQUEST_BODY_BYTES} (1 MiB)"
        )
    return raw


def parse_json_body(raw: object, where: str) -> str:
    """The JSON text of a `json:` value (compact, keys in the order written)."""
    try:
        text = json.dumps(raw, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where}: json must be JSON data (objects, lists, text, numbers, true, false, "
            "null), not YAML dates, sets or NaN"
        ) from None
    except RecursionError:
        raise ConfigError(f"{where}: json is nested too deep") from None
    if len(text.encode()) > MAX_REQUEST_BODY_BYTES:
        raise ConfigError(f"{where}: json is over {MAX_REQUEST_BODY_BYTES} bytes (1 MiB) long")
    return text


def parse_env_name(raw: object, where: str, key: str) -> str:
    if not isinstance(raw, str) or not _ENV_NAME.fullmatch(raw):
        raise ConfigError(
            f"{where}: {key} is the name of an environment variable (letters, digits and _, "
            f"e.g. SHOP_API_TOKEN), got {shown(raw)}"
        )
    return raw


def secret_from_env(name: str, where: str, key: str, env: Mapping[str, str] | None = None) -> str:
    """The value of the variable `name` (the environment over `.env`); a ConfigError
    naming the variable, never its value, when it is missing, empty or not one line of
    printable ASCII."""
    values = load_environment() if env is None else env
    value = values.get(name)
    if not value:
        raise ConfigError(
            f"{where}: {key} names {name}, which is not set (or empty): export {name}=... "
            "or add it to .env"
        )
    if not (value.isascii() and value.isprintable()):
        raise ConfigError(
            f"{where}: the value of {name} ({key}) must be one line of printable ASCII"
        )
    return value


def parse_basic_auth_env(raw: object, where: str) -> str:
    return parse_env_name(raw, where, "basic_auth_env")


def parse_bearer_token_env(raw: object, where: str) -> str:
    return parse_env_name(raw, where, "bearer_token_env")


def parse_token_env(raw: object, where: str) -> str:
    return parse_env_name(raw, where, "token_env")


def parse_file_path(raw: object, where: str, key: str) -> str:
    if not isinstance(raw, str) or not raw or "\x00" in raw:
        raise ConfigError(f"{where}: {key} must be the path of a PEM file")
    try:
        with open(raw, "rb") as stream:
            stream.read(1)
    except OSError as exc:
        raise ConfigError(
            f"{where}: {key} {shown(raw)} cannot be read ({exc.strerror or exc}): give the "
            "path of a PEM file, absolute or from the working folder"
        ) from None
    return raw


def parse_client_cert(raw: object, where: str) -> str:
    return parse_file_path(raw, where, "client_cert")


def parse_client_key(raw: object, where: str) -> str:
    return parse_file_path(raw, where, "client_key")


# Set in a monitor's forked reload child (wac.monitor.reload_child), where another
# thread of the parent may have held one of OpenSSL's locks at the fork: the pairs are
# loaded by the parent instead, once the child has handed the targets back.
pairs_checked_later = False


def check_client_pair(cert: str, key: str | None, where: str) -> None:
    """The certificate and key load together (the key may be in the certificate's file)."""
    if pairs_checked_later:
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        what = "client_cert and client_key do" if key else "client_cert does"
        raise ConfigError(
            f"{where}: {what} not load as a PEM certificate and its private key "
            f"({getattr(exc, 'reason', None) or exc}); a key with a passphrase is not supported"
        ) from None


def parse_http_version(raw: object, where: str) -> str:
    text = str(raw) if isinstance(raw, int | float | str) and not isinstance(raw, bool) else ""
    if text in ("1.1", "2", "2.0"):
        return "2" if text.startswith("2") else "1.1"
    raise ConfigError(f'{where}: http_version must be "1.1" or "2", got {shown(raw)}')


def parse_ip_version(raw: object, where: str) -> int:
    if raw in (4, 6, "4", "6") and not isinstance(raw, bool):
        return int(raw)
    raise ConfigError(f"{where}: ip_version must be 4 or 6, got {shown(raw)}")


def parse_send(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f"{where}: send must be non-empty text (sent as UTF-8)")
    size = len(raw.encode())
    if size > limits.MAX_TCP_SEND_BYTES:
        raise ConfigError(
            f"{where}: send is {size} bytes long; at most {limits.MAX_TCP_SEND_BYTES} (64 KiB)"
        )
    return raw


def parse_expect(raw: object, where: str) -> str:
    from wac.targets.fields import compile_pattern

    try:
        return compile_pattern(raw, where).text
    except ConfigError as exc:
        raise ConfigError(str(exc).replace(": pattern", ": expect", 1)) from None


def parse_tls(raw: object, where: str) -> bool:
    if not isinstance(raw, bool):
        raise ConfigError(f"{where}: tls must be true or false")
    return raw


def parse_min_tls_version(raw: object, where: str) -> str:
    if raw not in TLS_VERSION_NAMES:
        raise ConfigError(
            f"{where}: min_tls_version must be one of {', '.join(TLS_VERSION_NAMES)}, "
            f"got {shown(raw)}"
        )
    assert isinstance(raw, str)
    return raw


def parse_count(raw: object, where: str) -> int:
    return whole_number(raw, where, "count", 1, limits.MAX_ICMP_COUNT)


def whole_number(raw: object, where: str, field_name: str, lowest: int, highest: int) -> int:
    """`raw` when it is a whole number (not a bool) from `lowest` to `highest`."""
    if not isinstance(raw, int) or isinstance(raw, bool) or not lowest <= raw <= highest:
        raise ConfigError(
            f"{where}: {field_name} must be a whole number from {lowest} to {highest}, "
            f"got {shown(raw)}"
        )
    return raw


def parse_grace(raw: object, where: str) -> float:
    return parse_duration(raw, where, "grace", maximum=limits.MAX_INTERVAL_S)


def parse_assert(raw: object, where: str) -> tuple[Condition, ...]:
    try:
        return parse_conditions(raw)
    except ConditionError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def json_value(text: str | None) -> Any:
    return None if text is None else json.loads(text)
