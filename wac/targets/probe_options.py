"""What a target's scheme adds to it: HTTP's request body, credentials, client
certificate and versions, and the other probes' option structures (`probe_options`),
built from the checked field values; and its `assert:` conditions, checked against
what the probe measures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from wac.assertions import ConditionError, check_applies
from wac.errors import ConfigError
from wac.targets import options
from wac.targets import probe_fields as pf
from wac.targets.target import HTTP_SCHEMES, HttpAuth, Target


def extend_target(target: Target, values: Mapping[str, Any], where: str) -> Target:
    scheme = target.scheme
    if scheme in HTTP_SCHEMES:
        target = _http(target, values, where)
    else:
        build = _OPTIONS.get(scheme)
        if build is not None:
            try:
                target = replace(target, probe_options=build(values, where))
            except ValueError as exc:  # an option structure's own bounds
                raise ConfigError(f"{where}: {exc}") from None
    if target.assertions:
        tls = bool(getattr(target.probe_options, "tls", False))
        try:
            check_applies(target.assertions, scheme, tls=tls)
        except ConditionError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return target


def _http(target: Target, values: Mapping[str, Any], where: str) -> Target:
    changes: dict[str, Any] = {}
    body, body_json = values.get("body"), values.get("json")
    if body is not None and body_json is not None:
        raise ConfigError(f"{where}: give body or json, not both")
    if body is not None or body_json is not None:
        if target.method in ("GET", "HEAD"):
            given = "body" if body is not None else "json"
            raise ConfigError(
                f"{where}: {given} is sent as a request body, which needs a method such as "
                f"POST or PUT (method is {target.method})"
            )
        text = str(body if body is not None else body_json)
        changes["body"] = text.encode()
        changes["body_json"] = body_json
        if body_json is not None and not _has_header(target, "content-type"):
            changes["headers"] = (*target.headers, ("Content-Type", "application/json"))
    basic, bearer = values.get("basic_auth_env"), values.get("bearer_token_env")
    if basic is not None and bearer is not None:
        raise ConfigError(f"{where}: give basic_auth_env or bearer_token_env, not both")
    if basic is not None or bearer is not None:
        if _has_header(target, "authorization"):
            raise ConfigError(
                f"{where}: headers sets Authorization and so does "
                f"{'basic_auth_env' if basic else 'bearer_token_env'}: keep one"
            )
        kind, key = ("basic", "basic_auth_env") if basic else ("bearer", "bearer_token_env")
        name = str(basic if basic is not None else bearer)
        secret = pf.secret_from_env(name, where, key)
        if kind == "basic" and ":" not in secret:
            raise ConfigError(
                f"{where}: the value of {name} (basic_auth_env) must be user:password"
            )
        changes["http_auth"] = HttpAuth(kind, name, secret)
    cert, key_file = values.get("client_cert"), values.get("client_key")
    if key_file is not None and cert is None:
        raise ConfigError(
            f"{where}: client_key needs client_cert (the certificate it is the key of)"
        )
    if cert is not None:
        if not target.url.lower().startswith("https:"):
            raise ConfigError(f"{where}: client_cert is for https:// targets (mutual TLS)")
        pf.check_client_pair(cert, key_file, where)
        changes["client_cert"], changes["client_key"] = cert, key_file
    for key in ("http_version", "ip_version"):
        if values.get(key) is not None:
            changes[key] = values[key]
    # Most targets change nothing: replace() costs as much as making the target.
    return replace(target, **changes) if changes else target


def _has_header(target: Target, name: str) -> bool:
    return any(key.lower() == name for key, _ in target.headers)


def _tcp(values: Mapping[str, Any], where: str) -> object:
    return options.TcpOptions(
        send=values.get("send"), expect=values.get("expect"), tls=bool(values.get("tls"))
    )


def _tls(values: Mapping[str, Any], where: str) -> object:
    return options.TlsOptions(min_tls_version=values.get("min_tls_version"))


def _dns(values: Mapping[str, Any], where: str) -> object:
    return options.DnsOptions(expect=values.get("expect"))


def _icmp(values: Mapping[str, Any], where: str) -> object:
    count = values.get("count")
    return options.IcmpOptions(count=options.DEFAULT_COUNT if count is None else count)


# Set while a managed definition is decoded: its push token is left to `wac web`.
_PUSH_TOKENS_DEFERRED: ContextVar[bool] = ContextVar("push_tokens_deferred", default=False)


@contextmanager
def push_tokens_deferred() -> Iterator[None]:
    """Within: a push target's `token_env` is kept by name, not read (token None)."""
    reset = _PUSH_TOKENS_DEFERRED.set(True)
    try:
        yield
    finally:
        _PUSH_TOKENS_DEFERRED.reset(reset)


def push_token(name: str, where: str, env: Mapping[str, str] | None = None) -> str:
    """The value of the variable `name`, checked as a push token (ConfigError otherwise)."""
    token = pf.secret_from_env(name, where, "token_env", env)
    problem = options.check_token(token)
    if problem is not None:
        raise ConfigError(f"{where}: the value of {name} (token_env) {problem}")
    return token


def _push(values: Mapping[str, Any], where: str) -> object:
    name = values.get("token_env")
    if name is None:
        raise ConfigError(
            f"{where}: token_env is required for a push:// target: the name of the "
            "environment variable that holds its token"
        )
    token = None if _PUSH_TOKENS_DEFERRED.get() else push_token(name, where)
    grace = values.get("grace")
    return options.PushOptions(
        token_env=name, token=token, grace=options.DEFAULT_GRACE_S if grace is None else grace
    )


_OPTIONS: dict[str, Callable[[Mapping[str, Any], str], object]] = {
    "tcp": _tcp,
    "tls": _tls,
    "dns": _dns,
    "icmp": _icmp,
    "push": _push,
}
