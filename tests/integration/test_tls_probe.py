"""The tls:// probe (the handshake only) against local TLS servers with valid, expired,
self-signed and wrong-host certificates, signed by the tests' own CA."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.support.probes import check_url, kind_of
from tests.support.servers import TLS_KINDS, echo_server, free_port, local_ca, tls_site
from wac.probes.tls import TlsOptions

Sites = dict[str, tuple[str, dt.datetime]]


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    with ExitStack() as stack:
        yield {
            kind: (
                f"tls://127.0.0.1:{base.rsplit(':', 1)[1]}",
                not_after,
            )
            for kind in TLS_KINDS
            for base, not_after in [stack.enter_context(tls_site(kind))]
        }


def ca() -> str:
    return str(local_ca().bundle)


def test_valid_certificate_reports_verification_host_expiry_version_and_cipher(
    sites: Sites,
) -> None:
    url, not_after = sites["good"]
    result = check_url(url, ca_bundle=ca())
    assert result.ok and result.probe == "tls", result.error
    assert result.tls_expires_at == not_after
    days_left = (not_after - dt.datetime.now(dt.UTC)).days
    assert 88 <= days_left <= 90
    details = result.details
    assert details is not None
    assert details.tls_verified is True and details.tls_verify_error is None
    assert details.tls_host_matched is True
    assert details.tls_version in ("TLSv1.2", "TLSv1.3") and details.tls_cipher
    assert result.phases.resolve is not None and result.phases.connect is not None
    assert result.phases.tls is not None and result.phases.processing is None
    assert result.response_time_ms is not None


def test_host_name_is_matched_too(sites: Sites) -> None:
    url, _ = sites["good"]
    assert check_url(url.replace("127.0.0.1", "localhost"), ca_bundle=ca()).ok


@pytest.mark.parametrize(
    ("kind", "reason", "verified", "matched"),
    [
        ("expired", "the certificate has expired", False, True),
        ("self_signed", "the certificate is self-signed", False, True),
        ("wrong_host", "is for another host name (it is for other.example)", True, False),
    ],
)  # fmt: skip
def test_bad_certificates_say_why_and_still_show_the_certificate(
    sites: Sites, kind: str, reason: str, verified: bool, matched: bool
) -> None:
    url, not_after = sites[kind]
    result = check_url(url, ca_bundle=ca())
    assert not result.ok and kind_of(result) == "tls" and result.error is not None
    assert reason in result.error.message
    assert result.tls_expires_at == not_after  # read by a second, unverified handshake
    details = result.details
    assert details is not None
    assert details.tls_verified is verified and details.tls_host_matched is matched
    assert (details.tls_verify_error is None) is verified
    if kind == "expired":
        assert details.tls_verify_error == "certificate has expired"
        assert not_after < dt.datetime.now(dt.UTC)  # days left below zero


def test_unknown_authority_with_the_system_bundle(sites: Sites) -> None:
    result = check_url(sites["good"][0])
    assert kind_of(result) == "tls" and result.error is not None
    assert "unknown authority" in result.error.message


def test_verify_tls_false_reports_without_judging(sites: Sites) -> None:
    for kind in TLS_KINDS:
        url, not_after = sites[kind]
        result = check_url(url, verify_tls=False)
        assert result.ok, (kind, result.error)
        assert result.tls_expires_at == not_after
        assert result.details is not None and result.details.tls_verified is None
        assert result.details.tls_host_matched is (kind != "wrong_host")


def test_min_tls_version_below_is_a_failure_with_a_clear_message() -> None:
    with tls_site("good", maximum_version=ssl.TLSVersion.TLSv1_2) as (base, _):
        url = f"tls://127.0.0.1:{base.rsplit(':', 1)[1]}"
        result = check_url(url, TlsOptions(min_tls_version="TLSv1.3"), ca_bundle=ca())
        assert kind_of(result) == "tls" and result.error is not None
        assert result.error.message == (
            "TLS failed with 127.0.0.1: the handshake negotiated TLSv1.2, below "
            "min_tls_version TLSv1.3"
        )
        assert result.details is not None and result.details.tls_version == "TLSv1.2"
        assert check_url(url, TlsOptions(min_tls_version="TLSv1.2"), ca_bundle=ca()).ok


def test_min_tls_version_must_be_a_known_version() -> None:
    with pytest.raises(ValueError, match=r"min_tls_version 'TLSv1\.4' is not one of"):
        TlsOptions(min_tls_version="TLSv1.4")


def test_not_tls_closed_and_blocked(sites: Sites) -> None:
    with echo_server(banner=b"hello\r\n") as port:
        result = check_url(f"tls://127.0.0.1:{port}")
    assert kind_of(result) == "tls" and result.error is not None
    assert "does not speak TLS" in result.error.message
    assert kind_of(check_url(f"tls://127.0.0.1:{free_port()}")) == "connect"
    blocked = check_url(sites["good"][0], ca_bundle=ca(), block_private=True)
    assert kind_of(blocked) == "connect" and blocked.error is not None
    assert "WAC_BLOCK_PRIVATE_TARGETS" in blocked.error.message
