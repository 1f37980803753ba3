"""The HTTP probe against local servers the test starts (no Kafka needed)."""

import pytest

from wac.probes.http import probe_blocking
from wac.targets import Target, target_from_url


def check(url: str, *, timeout: float = 1.0, pattern: str | None = None, **changes):
    target = target_from_url(url, interval=10, timeout=timeout, pattern=pattern)
    if changes:
        target = Target(**{**target.__dict__, **changes})
    return probe_blocking(target, "test")


def test_ok_with_phases(site: str) -> None:
    result = check(f"{site}/ok")
    assert result.ok and result.error is None
    assert result.status_code == 200
    p = result.phases
    assert p.resolve is not None and p.connect is not None
    assert p.processing is not None and p.transfer is not None
    assert p.tls is None  # plain HTTP has no handshake
    assert result.response_time_ms is not None and result.response_time_ms > 0
    assert result.tls_expires_at is None


def test_pattern_found_and_missing(site: str) -> None:
    found = check(f"{site}/ok", pattern=r"Hello from \w+")
    assert found.ok and found.pattern_matched is True
    missing = check(f"{site}/ok", pattern="Goodbye")
    assert not missing.ok and missing.pattern_matched is False
    assert missing.error is not None and missing.error.kind == "pattern"
    assert missing.status_code == 200


@pytest.mark.parametrize("status", [404, 500])
def test_unexpected_status(site: str, status: int) -> None:
    result = check(f"{site}/status/{status}")
    assert not result.ok and result.status_code == status
    assert result.error is not None and result.error.kind == "status"
    assert str(status) in result.error.message


def test_hanging_server_times_out_waiting_for_response(site: str) -> None:
    result = check(f"{site}/hang", timeout=0.5)
    assert result.error is not None and result.error.kind == "timeout"
    assert "waiting for the response" in result.error.message
    assert result.status_code is None and not result.ok


def test_refused_port() -> None:
    from tests.support.servers import free_port

    result = check(f"http://127.0.0.1:{free_port()}/")
    assert result.error is not None and result.error.kind == "connect"
    assert result.phases.connect is None


def test_unresolvable_name() -> None:
    result = check("http://no-such-host.invalid/")
    assert result.error is not None and result.error.kind == "dns"
    assert "no-such-host.invalid" in result.error.message


def test_body_over_cap(site: str) -> None:
    result = check(f"{site}/big/5000", max_body_bytes=1000)
    assert result.error is not None and result.error.kind == "too_large"
    assert not result.ok


def test_redirect_followed_and_recorded(site: str) -> None:
    result = check(f"{site}/redirect")
    assert result.ok and result.status_code == 200
    assert result.final_url == f"{site}/ok"


def test_redirect_loop(site: str) -> None:
    result = check(f"{site}/loop")
    assert result.error is not None and result.error.kind == "protocol"
    assert "redirect" in result.error.message
