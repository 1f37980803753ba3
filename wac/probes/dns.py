"""DNS probe: `dns://[server[:port]]/name?type=A|AAAA|CNAME|MX|TXT|NS|SOA` (dnspython).

One query for `name` (type A when `type` is not given) to `server` (port 53 unless
given), over UDP and again over TCP when the answer comes truncated. Without a server,
the system's resolvers (the `nameserver` lines of /etc/resolv.conf) are asked in turn,
each with its share of the timeout. A server given by name is looked up first.

Up when the rcode is NOERROR, the answer holds at least one record of the type asked,
and `expect` (an RE2 regex, when given) is found in one of the answers. Phases: `resolve`
only, the whole lookup (finding the server's address, the query and its TCP retry).
Errors: `dns` (an rcode other than NOERROR, an empty answer, a server name that does
not resolve), `connect` (the server's port is closed; WAC_BLOCK_PRIVATE_TARGETS refuses a
server given in the URL that is not public: the system's resolvers are the operator's
and always allowed), `timeout`, `protocol` (an answer that is not valid DNS), `pattern`.
`details` holds the server's address, the rcode, the answers (presentation form, such
as `10 mail.example.` for MX, sorted) and whether they came over TCP.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import struct
from dataclasses import dataclass
from functools import cached_property, lru_cache

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from wac.probes.contract import ProbeContext
from wac.probes.netcheck import (
    CheckFailed,
    SocketCheck,
    describe_os_error,
    host_port,
    ip_literal,
    resolve,
    run_check,
)
from wac.result import MAX_ANSWER_CHARS, MAX_DNS_ANSWERS, CheckResult
from wac.targets import Target
from wac.targets.options import DNS_PORT, expect_pattern, options_as, split_dns_url
from wac.targets.options import QUERY_TYPES as QUERY_TYPES
from wac.targets.options import DnsOptions as DnsOptions

RESOLV_CONF = "/etc/resolv.conf"
DEFAULT_PORT = DNS_PORT


DEFAULT_OPTIONS = DnsOptions()


@dataclass(frozen=True)
class DnsQuery:
    server: str | None  # None: the system's resolvers
    port: int
    name: dns.name.Name
    type_name: str

    @cached_property
    def rdtype(self) -> dns.rdatatype.RdataType:
        return dns.rdatatype.from_text(self.type_name)

    @cached_property
    def request(self) -> dns.message.QueryMessage:
        """The query, made once; each check sends it with an id of its own."""
        return dns.message.make_query(self.name, self.rdtype)

    @cached_property
    def wire(self) -> bytes:
        return self.request.to_wire()


@lru_cache(maxsize=65536)
def parse_dns_url(url: str) -> DnsQuery:
    """`dns://[server[:port]]/name?type=T`; ValueError saying what is wrong."""
    parts = split_dns_url(url)
    return DnsQuery(parts.server, parts.port, dns.name.from_text(parts.name), parts.type_name)


async def probe_dns(target: Target, context: ProbeContext) -> CheckResult:
    """The `ProbeFn` of dns:// URLs."""
    query = parse_dns_url(target.url)
    options = options_as(target.probe_options, DnsOptions, DEFAULT_OPTIONS, "dns")
    check = SocketCheck(target, context, "dns")
    check.pattern = options.expect

    async def body(check: SocketCheck) -> None:
        servers = await _servers(check, query)
        response, server, used_tcp = await _ask(check, query, servers)
        check.lap("resolve")
        check.answered = True
        _judge(check, query, options, response, server, used_tcp)

    return await run_check(check, body)


async def _servers(check: SocketCheck, query: DnsQuery) -> list[tuple[str, int]]:
    """The (address, port) to ask, in order."""
    if query.server is None:
        check.stage = f"reading {RESOLV_CONF}"
        return [(address, DEFAULT_PORT) for address in system_nameservers()]
    check.stage = f"resolving the DNS server {query.server}"
    if ip_literal(query.server) is None:
        addresses = await resolve(check, query.server, query.port, kind=socket.SOCK_DGRAM)
    else:
        addresses = await resolve(check, query.server, query.port)
    return [(str(sockaddr[0]), query.port) for _, sockaddr in addresses]


def system_nameservers() -> list[str]:
    """The nameservers of /etc/resolv.conf (read again when the file changes)."""
    try:
        stamp = os.stat(RESOLV_CONF).st_mtime_ns
    except OSError as exc:
        raise CheckFailed(
            "other",
            f"cannot read {RESOLV_CONF} ({exc.strerror}): give the DNS server in the URL "
            "(dns://server/name)",
        ) from None
    return list(_read_resolv_conf(RESOLV_CONF, stamp))


@lru_cache(maxsize=4)
def _read_resolv_conf(path: str, stamp: int) -> tuple[str, ...]:
    resolver = dns.resolver.Resolver(configure=False)
    try:
        resolver.read_resolv_conf(path)
    except dns.exception.DNSException as exc:
        raise CheckFailed(
            "other", f"{path} names no DNS server ({exc}): give one in the URL (dns://server/name)"
        ) from None
    return tuple(str(n) for n in resolver.nameservers)


async def _ask(
    check: SocketCheck, query: DnsQuery, servers: list[tuple[str, int]]
) -> tuple[dns.message.Message, str, bool]:
    """The first answer of the servers, each asked with its share of the time left."""
    failure: CheckFailed | None = None
    for index, (address, port) in enumerate(servers):
        where = host_port(address, port)
        check.stage = f"waiting for the answer of {where}"
        check.details["address"] = address
        share = check.remaining() / (len(servers) - index)
        try:
            async with asyncio.timeout(share):
                response, used_tcp = await _exchange(query, address, port, share)
        except TimeoutError:
            failure = CheckFailed(
                "timeout", f"no answer from the DNS server {where} within {share:.3g} s"
            )
        except OSError as exc:
            error = describe_os_error(exc, f"asking the DNS server {where}")
            failure = CheckFailed(error.kind, error.message)
        except dns.exception.DNSException as exc:
            failure = CheckFailed("protocol", f"the answer of {where} is not valid DNS ({exc})")
        else:
            return response, where, used_tcp
    assert failure is not None
    raise failure


_ID = struct.Struct("!H")


async def _exchange(
    query: DnsQuery, address: str, port: int, timeout: float
) -> tuple[dns.message.Message, bool]:
    """The query over UDP, and over TCP (dnspython's) when the answer is truncated.

    The UDP exchange is the probe's own: a connected socket of its own on the loop's
    reader (a fresh source port and a random id for each query), datagrams with another
    id skipped. dnspython's asyncio UDP query makes a datagram transport and protocol
    for each query, and a query message: both cost more than the exchange. dnspython
    builds the query (once per target) and parses the answer.
    """
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    query_id = random.getrandbits(16)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect((address, port))
        await loop.sock_sendall(sock, _ID.pack(query_id) + query.wire[2:])
        while True:
            data = await loop.sock_recv(sock, 65535)
            if len(data) >= 4 and _ID.unpack_from(data)[0] == query_id:
                break
    if _ID.unpack_from(data, 2)[0] & dns.flags.TC:
        request = dns.message.make_query(query.name, query.rdtype)
        response = await dns.asyncquery.tcp(request, address, timeout=timeout, port=port)
        return response, True
    response = dns.message.from_wire(data)
    response.id = query.request.id  # compared with the query made once, as dnspython does
    if not query.request.is_response(response):
        raise dns.exception.FormError("the answer is not for the question asked")
    return response, False


def _judge(
    check: SocketCheck,
    query: DnsQuery,
    options: DnsOptions,
    response: dns.message.Message,
    server: str,
    used_tcp: bool,
) -> None:
    rcode = dns.rcode.to_text(response.rcode())
    # Sorted: servers rotate the order of a record set, and a result should not change
    # with it.
    answers = sorted(
        rdata.to_text()
        for rrset in response.answer
        if rrset.rdtype == query.rdtype
        for rdata in rrset
    )
    details = check.details
    details["dns_rcode"] = rcode
    details["dns_tcp"] = used_tcp
    details["dns_answers"] = [_bounded(a) for a in answers[:MAX_DNS_ANSWERS]]
    name = query.name.to_text()
    if rcode != "NOERROR":
        raise CheckFailed("dns", _rcode_message(rcode, name, server))
    if not answers:
        raise CheckFailed(
            "dns", f"no {query.type_name} records for {name} (NOERROR, empty answer from {server})"
        )
    if options.expect is not None:
        pattern = expect_pattern(options.expect)
        found = any(pattern.found(answer.encode()) for answer in answers)
        check.pattern_matched = found
        if not found:
            raise CheckFailed(
                "pattern",
                f"expect {options.expect!r} not found in the {len(answers)} "
                f"{query.type_name} answer(s) for {name}",
            )


def _bounded(answer: str) -> str:
    if len(answer) <= MAX_ANSWER_CHARS:
        return answer
    return answer[: MAX_ANSWER_CHARS - 3] + "..."


def _rcode_message(rcode: str, name: str, server: str) -> str:
    if rcode == "NXDOMAIN":
        return f"{name} does not exist (NXDOMAIN from {server})"
    if rcode == "SERVFAIL":
        return f"{server} could not answer for {name} (SERVFAIL)"
    if rcode == "REFUSED":
        return f"{server} refused to answer for {name} (REFUSED)"
    return f"{server} answered {rcode} for {name}"
