"""The tcp:// probe against local servers the tests start: an echo server, a closed port,
a server that never answers, TLS sites."""

from __future__ import annotations

import time

import pytest

from tests.support.probes import check_url, kind_of
from tests.support.servers import (
    echo_server,
    free_port,
    full_backlog_server,
    local_ca,
    silent_server,
    tls_site,
)
from wac.probes.tcp import TcpOptions, parse_host_port_url


def test_connect_only_is_up_with_resolve_and_connect() -> None:
    with echo_server() as port:
        result = check_url(f"tcp://127.0.0.1:{port}")
    assert result.ok and result.probe == "tcp" and result.status_code is None
    assert result.phases.resolve is not None and result.phases.connect is not None
    assert result.phases.tls is None and result.phases.processing is None
    assert result.response_time_ms is not None and result.response_time_ms > 0
    assert result.details is not None and result.details.address == "127.0.0.1"
    assert result.details.tcp_reply is None and result.pattern is None


def test_send_and_expect_over_the_echo_server() -> None:
    with echo_server() as port:
        result = check_url(
            f"tcp://localhost:{port}", TcpOptions(send="PING wac\r\n", expect=r"^PING \w+")
        )
    assert result.ok, result.error
    assert result.pattern == r"^PING \w+" and result.pattern_matched is True
    assert result.phases.processing is not None and result.phases.transfer is not None
    assert result.details is not None
    assert result.details.tcp_reply == "PING wac\\x0d\\x0a"
    assert result.details.tcp_reply_bytes == 10


def test_expect_a_banner_without_sending() -> None:
    with echo_server(banner=b"SSH-2.0-OpenSSH_9.2\r\n") as port:
        assert check_url(f"tcp://127.0.0.1:{port}", TcpOptions(expect="^SSH-2\\.0-")).ok


def test_expect_not_in_the_reply_is_a_pattern_failure_with_the_reply() -> None:
    with echo_server(banner=b"220 mail ready\r\n") as port:
        result = check_url(
            f"tcp://127.0.0.1:{port}",
            TcpOptions(expect="^SSH-", max_read_bytes=16),
            timeout=2,
        )
    assert not result.ok and kind_of(result) == "pattern"
    assert result.pattern_matched is False
    assert result.error is not None
    assert "not found in the first 16 bytes of the reply (max_read_bytes)" in result.error.message
    assert result.details is not None and result.details.tcp_reply == "220 mail ready\\x0d\\x0a"
    assert result.response_time_ms is not None  # it answered: the time is known


def test_reply_that_never_comes_is_a_timeout_while_waiting() -> None:
    with silent_server() as port:
        started = time.monotonic()
        result = check_url(f"tcp://127.0.0.1:{port}", TcpOptions(expect="hello"), timeout=0.5)
    assert time.monotonic() - started < 3
    assert kind_of(result) == "timeout" and result.error is not None
    assert "timed out while waiting for the reply" in result.error.message
    assert result.phases.connect is not None and result.pattern_matched is None


def test_closed_port_is_a_connect_failure() -> None:
    result = check_url(f"tcp://127.0.0.1:{free_port()}")
    assert kind_of(result) == "connect" and result.error is not None
    assert "connection refused" in result.error.message
    assert result.response_time_ms is None and result.phases.connect is None


def test_connect_that_never_completes_times_out_connecting() -> None:
    with full_backlog_server() as port:
        result = check_url(f"tcp://127.0.0.1:{port}", timeout=0.3)
    assert kind_of(result) == "timeout" and result.error is not None
    assert "while connecting to 127.0.0.1" in result.error.message


def test_unresolvable_name_is_a_dns_failure() -> None:
    result = check_url("tcp://no-such-host.invalid:80")
    assert kind_of(result) == "dns" and result.phases.resolve is None


def test_private_addresses_refused_when_blocked() -> None:
    with echo_server() as port:
        for host in ("127.0.0.1", "localhost"):
            result = check_url(f"tcp://{host}:{port}", block_private=True)
            assert kind_of(result) == "connect" and result.error is not None
            assert "WAC_BLOCK_PRIVATE_TARGETS" in result.error.message
        assert check_url(f"tcp://127.0.0.1:{port}").ok


def test_tls_over_the_connection_verified_as_http_does() -> None:
    ca = str(local_ca().bundle)
    with tls_site("good") as (base, not_after):
        port = base.rsplit(":", 1)[1]
        options = TcpOptions(
            tls=True, send="GET /ok HTTP/1.0\r\nHost: x\r\n\r\n", expect="HTTP/1\\.[01] 200"
        )
        result = check_url(f"tcp://127.0.0.1:{port}", options, ca_bundle=ca)
    assert result.ok, result.error
    assert result.phases.tls is not None and result.tls_expires_at == not_after
    assert result.details is not None and result.details.tls_version in ("TLSv1.2", "TLSv1.3")
    assert result.details.tls_cipher


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("expired", "the certificate has expired"),
        ("self_signed", "self-signed"),
        ("wrong_host", "another host name"),
    ],
)
def test_tls_over_the_connection_with_a_bad_certificate(kind: str, reason: str) -> None:
    ca = str(local_ca().bundle)
    with tls_site(kind) as (base, _):
        url = f"tcp://127.0.0.1:{base.rsplit(':', 1)[1]}"
        result = check_url(url, TcpOptions(tls=True), ca_bundle=ca)
        assert kind_of(result) == "tls" and result.error is not None
        assert reason in result.error.message
        assert check_url(url, TcpOptions(tls=True), ca_bundle=ca, verify_tls=False).ok


def test_tls_to_a_port_that_does_not_speak_it() -> None:
    with echo_server(banner=b"plain text\r\n") as port:
        result = check_url(f"tcp://127.0.0.1:{port}", TcpOptions(tls=True))
    assert kind_of(result) == "tls" and result.error is not None


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("tcp://example.com", "need a port"),
        ("tcp://example.com:0", "need a port"),
        ("tcp://example.com:99999", "not a valid URL"),
        ("tcp://:80", "need a host"),
        ("tcp://example.com:80/path", "nothing after the port"),
        ("tcp://user:secret@example.com:80", "no user name"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_host_port_url(url, "tcp")
    result = check_url(url)  # and a check of one cannot start: a result of kind other
    assert kind_of(result) == "other" and result.probe == "tcp"
    assert "secret" not in (result.error.message if result.error else "")
