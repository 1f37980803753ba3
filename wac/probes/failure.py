"""The result of a check that could not be made: kind `other`, saying why in one line."""

from __future__ import annotations

import uuid
from datetime import datetime

from wac.result import CheckError, CheckResult, Phases, new_check_id, utc_now
from wac.targets import Target


def failed_result(
    target: Target, monitor: str, message: str, checked_at: datetime | None = None
) -> CheckResult:
    """The result of a check that could not be made at all: error kind `other`."""
    return unmeasured_result(
        target,
        monitor,
        checked_at or utc_now(),
        CheckError("other", message),
        pattern=target.pattern,
    )


def unmeasured_result(
    target: Target,
    monitor: str,
    checked_at: datetime,
    error: CheckError | None,
    *,
    check_id: uuid.UUID | None = None,
    pattern: str | None = None,
) -> CheckResult:
    """A result that measured nothing (no status, timings or certificate): up when
    `error` is None; `check_id` None: a new id."""
    return CheckResult(
        v=1,
        id=check_id or new_check_id(),
        target=target.id,
        url=target.public_url,
        monitor=monitor,
        checked_at=checked_at,
        ok=error is None,
        status_code=None,
        response_time_ms=None,
        phases=Phases(),
        pattern=pattern,
        pattern_matched=None,
        tls_expires_at=None,
        error=error,
        probe=probe_of(target),
    )


def probe_of(target: Target) -> str | None:
    """The result's `probe` for a target: its URL's scheme, none for HTTP(S) (the default)."""
    scheme = target.scheme
    return None if scheme in ("http", "https") else scheme


def describe_failure(target: Target, what: str, exc: BaseException) -> str:
    """One line for a check that raised: what failed and why, never the URL's credentials."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if target.url in reason:
        reason = reason.replace(target.url, target.public_url)
    if len(reason) > 200:
        reason = reason[:197] + "..."
    return f"{what}: {type(exc).__name__}: {reason}"
