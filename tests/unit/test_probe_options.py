"""The probes' option structures and URL parsers: outside input, checked on its own.

Properties (Hypothesis): whatever text a URL parser gets, it returns a parsed URL or
raises ValueError with a reason, never anything else; an ICMP packet the probe writes
carries a checksum that sums to zero, and its reply parser takes any bytes.
"""

from __future__ import annotations

import socket
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wac import limits
from wac.probes.dns import DnsOptions, parse_dns_url
from wac.probes.icmp import _echo_reply, _echo_request, internet_checksum, parse_icmp_url
from wac.probes.tcp import TcpOptions, parse_host_port_url
from wac.probes.tls import TlsOptions

PROPERTY = settings(max_examples=300, deadline=None)
url_text = st.text(st.sampled_from(string.printable + "é\x00[]:@?#%/"), max_size=60) | st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["tcp", "tls", "dns", "icmp", "TCP", "http"]),
    st.text(st.sampled_from(string.ascii_letters + string.digits + ".-:[]@%"), max_size=20),
    st.sampled_from(["", ":53", ":0", ":65535", ":65536", ":-1", ":x"]),
    st.sampled_from(["", "/", "/www.test", "/a/b", "/x?type=MX", "/x?type=ZZ", "?a=b", "#f"]),
)


@PROPERTY
@given(url=url_text)
def test_url_parsers_give_a_url_or_a_reason(url: str) -> None:
    for parse in (
        lambda u: parse_host_port_url(u, "tcp"),
        lambda u: parse_host_port_url(u, "tls"),
        parse_dns_url,
        parse_icmp_url,
    ):
        try:
            parse(url)
        except ValueError as exc:
            assert str(exc).strip() and "\n" not in str(exc)


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("tcp://example.com:22", ("example.com", 22)),
        ("tcp://[::1]:8443/", ("::1", 8443)),
        ("TCP://Example.COM:1", ("example.com", 1)),
    ],
)
def test_host_and_port(url: str, parsed: tuple[str, int]) -> None:
    endpoint = parse_host_port_url(url, "tcp")
    assert (endpoint.host, endpoint.port) == parsed


def test_icmp_host() -> None:
    assert parse_icmp_url("icmp://[2001:db8::1]") == "2001:db8::1"
    assert parse_icmp_url("icmp://router.example/") == "router.example"


def test_tcp_options_take_text_or_bytes_and_check_their_bounds() -> None:
    assert TcpOptions(send="héllo").payload == "héllo".encode()
    assert TcpOptions(send=b"\x00\x01").payload == b"\x00\x01"
    assert TcpOptions().payload is None and TcpOptions().max_read_bytes == 4096
    with pytest.raises(ValueError, match="send must be 1 to 65536 bytes"):
        TcpOptions(send=b"x" * (limits.MAX_TCP_SEND_BYTES + 1))
    with pytest.raises(ValueError, match="max_read_bytes must be from 1 to 1048576"):
        TcpOptions(max_read_bytes=0)
    with pytest.raises(ValueError, match=r"expect '\(\\\\w\)\\\\1' is not a valid regex for RE2"):
        TcpOptions(expect=r"(\w)\1")
    with pytest.raises(ValueError, match="expect must be 1 to 1024 characters"):
        DnsOptions(expect="")
    assert TlsOptions(min_tls_version="TLSv1.3").min_tls_version == "TLSv1.3"


def test_options_are_frozen_and_hashable_as_targets_are() -> None:
    options = TcpOptions(send="a", expect="b")
    assert hash(options) == hash(TcpOptions(send=b"a", expect="b"))
    with pytest.raises(AttributeError):
        options.tls = True  # type: ignore[misc]


@PROPERTY
@given(
    identifier=st.integers(0, 0xFFFF),
    sequence=st.integers(0, 0xFFFF),
    token=st.binary(min_size=8, max_size=8),
)
def test_echo_requests_carry_a_checksum_that_sums_to_zero(
    identifier: int, sequence: int, token: bytes
) -> None:
    packet = _echo_request(socket.AF_INET, identifier, sequence, token)
    assert len(packet) == 64 and internet_checksum(packet) == 0
    # The same packet as the host echoes it (type 0) parses back.
    reply = b"\x00" + packet[1:]
    assert _echo_reply(socket.AF_INET, reply, raw=False) == (identifier, sequence, packet[8:])


@PROPERTY
@given(data=st.binary(max_size=100), raw=st.booleans(), v6=st.booleans())
def test_reply_parser_takes_any_bytes(data: bytes, raw: bool, v6: bool) -> None:
    family = socket.AF_INET6 if v6 else socket.AF_INET
    parsed = _echo_reply(family, data, raw=raw)
    assert parsed is None or (0 <= parsed[0] <= 0xFFFF and 0 <= parsed[1] <= 0xFFFF)
