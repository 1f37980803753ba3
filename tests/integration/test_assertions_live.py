"""Every kind of `assert:` condition, holding and failing, on real local servers: HTTP(S)
sites (status, headers, text and JSON bodies, response time, certificate expiry), a TCP
echo server, TLS servers, a DNS server and ICMP to 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.dns_server import LocalDns, dns_server
from tests.support.probes import assert_valid, kind_of
from tests.support.servers import echo_server, http_site, local_ca, tls_site
from wac.probes.once import run_checks
from wac.probes.policy import ProbePolicy
from wac.result import CheckResult
from wac.targets import parse_targets_document


def check(url: str, *conditions: str, **fields: Any) -> CheckResult:
    entry = {"url": url, "assert": list(conditions), **fields}
    (target,) = parse_targets_document({"targets": [entry]}, source="t.yaml", default_timeout=2)
    policy = ProbePolicy(ca_bundle=str(local_ca().bundle))
    (result,) = run_checks([target], "test", policy=policy)
    assert_valid(result)
    return result


def holds(result: CheckResult) -> bool:
    assert result.ok or kind_of(result) == "assertion", result.error
    return result.ok


def failed_with(result: CheckResult) -> str:
    assert kind_of(result) == "assertion", result.error
    assert result.error is not None
    return result.error.message


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with http_site() as base:
        yield base


@pytest.fixture(scope="module")
def https_site() -> Iterator[str]:
    with tls_site("good") as (base, _):  # its certificate expires in 90 days
        yield base


@pytest.fixture(scope="module")
def dns() -> Iterator[LocalDns]:
    with dns_server() as server:
        yield server


def test_status(site: str) -> None:
    assert holds(check(f"{site}/ok", "[STATUS] == 200"))
    # a condition on the status replaces the 2xx/3xx rule: an expected 404 is up
    assert holds(check(f"{site}/status/404", "[STATUS] == 404"))
    message = failed_with(check(f"{site}/ok", "[STATUS] >= 300"))
    assert message == "[STATUS] >= 300 failed: [STATUS] is 200"


def test_headers(site: str) -> None:
    assert holds(check(f"{site}/json", "[HEADER].Content-Type == application/json"))
    assert holds(check(f"{site}/json", "[HEADER].x-version > 6"))
    message = failed_with(check(f"{site}/ok", "[HEADER].content-type contains json"))
    assert message.endswith("[HEADER].content-type is 'text/html; charset=utf-8'")
    assert "has no etag header" in failed_with(
        check(f"{site}/ok", "[HEADER].etag != x", "[HEADER].etag == x")
    )


def test_text_body(site: str) -> None:
    assert holds(
        check(f"{site}/ok", "[BODY] contains Hello from wac", "[BODY] matches wac\\s+test")
    )
    message = failed_with(check(f"{site}/ok", "[BODY] !contains Hello"))
    assert message.startswith("[BODY] !contains Hello failed: [BODY] is '<html><body>Hello")


def test_json_body_paths(site: str) -> None:
    assert holds(
        check(
            f"{site}/json",
            "[BODY].status == UP",
            "[BODY].version >= 7",
            "[BODY].healthy == true",
            "[BODY].owner == null",
            "[BODY].checks[0].name == db",
            "[BODY].checks[-1].ok == false",
            "len([BODY].checks) == 2",
            "[BODY].tags contains b",
            '[BODY]["odd key"] == spaced',
        )
    )
    message = failed_with(
        check(f"{site}/json", "[BODY].status == UP", "[BODY].checks[1].ok == true")
    )
    assert message == "[BODY].checks[1].ok == true failed: [BODY].checks[1].ok is false"
    assert failed_with(check(f"{site}/ok", "[BODY].status == UP")).endswith("the body is not JSON")


def test_response_time(site: str) -> None:
    assert holds(check(f"{site}/ok", "[RESPONSE_TIME] < 1s"))
    message = failed_with(check(f"{site}/slow/150", "[RESPONSE_TIME] < 50"))
    assert message.startswith("[RESPONSE_TIME] < 50 failed: the response time is 1")


def test_certificate_expiration_over_https(https_site: str) -> None:
    assert holds(check(f"{https_site}/ok", "[CERTIFICATE_EXPIRATION] > 48h"))
    message = failed_with(check(f"{https_site}/ok", "[CERTIFICATE_EXPIRATION] > 100d"))
    assert "the certificate expires in 89." in message or "expires in 90.0" in message


def test_a_check_that_failed_already_keeps_its_own_error(site: str) -> None:
    result = check(f"{site}/status/500", "[BODY] contains nothing-like-this")
    assert kind_of(result) == "status"


def test_tcp_response_time_and_certificate() -> None:
    with echo_server() as port:
        assert holds(check(f"tcp://127.0.0.1:{port}", "[RESPONSE_TIME] < 2s"))
        assert failed_with(check(f"tcp://127.0.0.1:{port}", "[RESPONSE_TIME] > 5s")).startswith(
            "[RESPONSE_TIME] > 5s failed: the response time is"
        )
    with tls_site("good") as (base, _):
        url = "tcp://" + base.removeprefix("https://")
        assert holds(check(url, "[CERTIFICATE_EXPIRATION] > 30d", tls=True))
        assert "expires in" in failed_with(
            check(url, "[CERTIFICATE_EXPIRATION] > 1w", "[CERTIFICATE_EXPIRATION] > 365d", tls=True)
        )


def test_tls_certificate_expiration() -> None:
    with tls_site("good") as (base, _):
        url = "tls://" + base.removeprefix("https://")
        assert holds(check(url, "[CERTIFICATE_EXPIRATION] >= 14d", "[RESPONSE_TIME] < 2s"))
        assert failed_with(check(url, "[CERTIFICATE_EXPIRATION] < 14d")).startswith(
            "[CERTIFICATE_EXPIRATION] < 14d failed: the certificate expires in"
        )


def test_dns_answers_and_rcode(dns: LocalDns) -> None:
    url = f"dns://{dns.server}/www.test?type=A"
    assert holds(
        check(
            url,
            "[DNS_ANSWERS] contains 127.0.0.2",
            "[DNS_ANSWERS] matches ^127\\.0\\.0\\.1$",
            "len([DNS_ANSWERS]) == 2",
            "[DNS_RCODE] == NOERROR",
        )
    )
    message = failed_with(check(url, "[DNS_ANSWERS] contains 10.0.0.1"))
    assert (
        message
        == '[DNS_ANSWERS] contains 10.0.0.1 failed: [DNS_ANSWERS] is ["127.0.0.1","127.0.0.2"]'
    )
    assert holds(
        check(f"dns://{dns.server}/www.test?type=MX", "[DNS_ANSWERS] contains 10 mail.test.")
    )
    assert failed_with(
        check(f"dns://{dns.server}/www.test?type=MX", "[DNS_ANSWERS] !contains 10 mail.test.")
    )


def test_icmp_response_time() -> None:
    assert holds(check("icmp://127.0.0.1", "[RESPONSE_TIME] < 500", count=2))
    assert failed_with(check("icmp://127.0.0.1", "[RESPONSE_TIME] > 10s", count=1)).startswith(
        "[RESPONSE_TIME] > 10s failed: the response time is"
    )
