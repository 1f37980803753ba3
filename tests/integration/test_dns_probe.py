"""The dns:// probe against a local DNS server the tests run (tests/support/dns_server.py):
A, AAAA, MX, TXT, CNAME, NS and SOA answers, NXDOMAIN, SERVFAIL, an empty answer, a
truncated UDP answer that forces the TCP retry, a server that never answers, and the
system's resolver (/etc/resolv.conf) pointed at the local server."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import wac.probes.dns
from tests.support.dns_server import LocalDns, dns_server
from tests.support.probes import check_url, kind_of
from tests.support.servers import free_port
from wac.probes.dns import DnsOptions, parse_dns_url


@pytest.fixture(scope="module")
def server() -> Iterator[LocalDns]:
    with dns_server() as local:
        yield local


@pytest.mark.parametrize(
    ("name", "kind", "answers"),
    [
        ("www.test", "A", ["127.0.0.1", "127.0.0.2"]),
        ("www.test", "AAAA", ["::1"]),
        ("www.test", "MX", ["10 mail.test."]),
        ("www.test", "TXT", ['"v=spf1 -all"']),
        ("alias.test", "CNAME", ["www.test."]),
        ("alias.test", "A", ["127.0.0.1", "127.0.0.2"]),  # through the CNAME
        ("test", "NS", ["ns1.test."]),
        ("test", "SOA", ["ns1.test. admin.test. 2026120301 3600 600 86400 60"]),
    ],
)
def test_answers_of_each_type(server: LocalDns, name: str, kind: str, answers: list[str]) -> None:
    result = check_url(f"dns://{server.server}/{name}?type={kind}")
    assert result.ok and result.probe == "dns", result.error
    details = result.details
    assert details is not None
    assert details.dns_rcode == "NOERROR" and details.dns_answers == answers
    assert details.dns_tcp is False and details.address == "127.0.0.1"
    assert result.phases.resolve is not None and result.phases.connect is None
    assert result.response_time_ms is not None and result.status_code is None


def test_type_defaults_to_a_and_is_case_blind(server: LocalDns) -> None:
    plain = check_url(f"dns://{server.server}/www.test")
    lower = check_url(f"dns://{server.server}/www.test.?type=aaaa")
    assert plain.details is not None and plain.details.dns_answers == ["127.0.0.1", "127.0.0.2"]
    assert lower.details is not None and lower.details.dns_answers == ["::1"]


@pytest.mark.parametrize(
    ("name", "rcode", "message"),
    [
        ("nxdomain.test", "NXDOMAIN", "nxdomain.test. does not exist (NXDOMAIN from 127.0.0.1:"),
        ("servfail.test", "SERVFAIL", "could not answer for servfail.test. (SERVFAIL)"),
        ("refused.test", "REFUSED", "refused to answer for refused.test. (REFUSED)"),
    ],
)
def test_rcodes_other_than_noerror_fail(
    server: LocalDns, name: str, rcode: str, message: str
) -> None:
    result = check_url(f"dns://{server.server}/{name}")
    assert kind_of(result) == "dns" and result.error is not None
    assert message in result.error.message
    assert result.details is not None and result.details.dns_rcode == rcode
    assert result.details.dns_answers == []
    assert result.response_time_ms is not None  # the server answered


def test_empty_answer_fails(server: LocalDns) -> None:
    result = check_url(f"dns://{server.server}/empty.test?type=MX")
    assert kind_of(result) == "dns" and result.error is not None
    assert result.error.message.startswith("no MX records for empty.test. (NOERROR")


def test_truncated_answer_is_asked_again_over_tcp(server: LocalDns) -> None:
    before = server.queries["tcp"]
    result = check_url(f"dns://{server.server}/big.test?type=TXT", timeout=3)
    assert result.ok, result.error
    assert result.details is not None and result.details.dns_tcp is True
    assert result.details.dns_answers is not None and len(result.details.dns_answers) == 40
    assert server.queries["tcp"] == before + 1


def test_expect_over_the_answers(server: LocalDns) -> None:
    url = f"dns://{server.server}/www.test?type=A"
    found = check_url(url, DnsOptions(expect=r"^127\.0\.0\.2$"))
    assert found.ok and found.pattern == r"^127\.0\.0\.2$" and found.pattern_matched is True
    missing = check_url(url, DnsOptions(expect=r"^10\."))
    assert kind_of(missing) == "pattern" and missing.pattern_matched is False
    assert missing.error is not None
    assert missing.error.message == "expect '^10\\\\.' not found in the 2 A answer(s) for www.test."


def test_server_that_never_answers_times_out(server: LocalDns) -> None:
    started = time.monotonic()
    result = check_url(f"dns://{server.server}/silent.test", timeout=0.4)
    assert time.monotonic() - started < 3
    assert kind_of(result) == "timeout" and result.error is not None
    assert f"waiting for the answer of {server.server}" in result.error.message
    assert result.response_time_ms is None


def test_server_given_by_name_is_looked_up_first(server: LocalDns) -> None:
    result = check_url(f"dns://localhost:{server.port}/www.test")
    assert result.ok, result.error
    assert result.details is not None and result.details.address in ("127.0.0.1", "::1")


def test_server_name_that_does_not_resolve(server: LocalDns) -> None:
    result = check_url("dns://no-such-server.invalid/www.test")
    assert kind_of(result) == "dns" and result.error is not None
    assert "no-such-server.invalid" in result.error.message


def test_private_server_refused_when_blocked(server: LocalDns) -> None:
    result = check_url(f"dns://{server.server}/www.test", block_private=True)
    assert kind_of(result) == "connect" and result.error is not None
    assert "WAC_BLOCK_PRIVATE_TARGETS" in result.error.message


def test_no_server_asks_the_systems_resolvers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nameservers of resolv.conf, on port 53: a local server on a loopback address
    of its own (root may bind port 53), after one that never answers."""
    address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    silent = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.1"
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"search example.org\nnameserver {silent}\nnameserver {address}\n")
    monkeypatch.setattr(wac.probes.dns, "RESOLV_CONF", str(conf))
    with dns_server(address, 53):
        result = check_url("dns:///www.test?type=MX", timeout=2, block_private=True)
    assert result.ok, result.error  # the operator's resolvers are allowed when blocked
    assert result.details is not None and result.details.address == address
    assert result.details.dns_answers == ["10 mail.test."]


def test_no_resolver_configured_says_how_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# nothing\n")
    monkeypatch.setattr(wac.probes.dns, "RESOLV_CONF", str(conf))
    result = check_url("dns:///www.test")
    assert kind_of(result) == "other" and result.error is not None
    assert "names no DNS server" in result.error.message
    assert "dns://server/name" in result.error.message


def test_closed_port_is_refused() -> None:
    """The kernel's "port unreachable" reaches the probe's connected UDP socket."""
    result = check_url(f"dns://127.0.0.1:{free_port()}/www.test", timeout=0.5)
    assert kind_of(result) == "connect" and result.error is not None
    assert result.error.message.endswith(": connection refused")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("dns://127.0.0.1/", "names one domain name"),
        ("dns://127.0.0.1/a/b", "names one domain name"),
        ("dns://127.0.0.1/www.test?type=PTR", "type=PTR is not one of A, AAAA"),
        ("dns://127.0.0.1/www.test?class=CH", "takes only ?type="),
        ("dns://127.0.0.1:0/www.test", "port of a dns:// server"),
        ("dns://u:p@127.0.0.1/www.test", "no user name"),
        ("dns://127.0.0.1/" + "a" * 64 + ".test", "not a valid domain name"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("?", r"\?")):
        parse_dns_url(url)


def test_parsed_url_parts() -> None:
    query = parse_dns_url("dns://[::1]:5353/Example.COM?type=mx")
    assert (query.server, query.port, query.type_name) == ("::1", 5353, "MX")
    assert query.name.to_text() == "Example.COM."
    system = parse_dns_url("dns:///example.com")
    assert (system.server, system.port, system.type_name) == (None, 53, "A")
