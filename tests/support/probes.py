"""Checking targets of any scheme once, as `wac check` does, for the probes' tests."""

from __future__ import annotations

from wac.probes.once import run_checks
from wac.probes.policy import ProbePolicy
from wac.result import CheckResult, decode, encode, read_result
from wac.targets import Target


def check_url(
    url: str,
    options: object | None = None,
    *,
    timeout: float = 1.0,
    verify_tls: bool = True,
    ca_bundle: str | None = None,
    block_private: bool = False,
    target_id: str | None = None,
) -> CheckResult:
    """One check of `url` through `run_checks`; the result must be a valid v1 message."""
    target = Target(
        url=url,
        id=target_id or url,
        timeout=timeout,
        verify_tls=verify_tls,
        probe_options=options,
    )
    policy = ProbePolicy(ca_bundle=ca_bundle, block_private=block_private)
    (result,) = run_checks([target], "probe-test", policy=policy)
    assert_valid(result)
    return result


def assert_valid(result: CheckResult) -> None:
    """Whatever happened, the result is a v1 message every consumer reads back equal."""
    raw = encode(result)
    assert decode(raw) == result
    assert read_result(raw, 65536) == result
    assert result.ok == (result.error is None)


def kind_of(result: CheckResult) -> str | None:
    return result.error.kind if result.error is not None else None
