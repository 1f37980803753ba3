"""A local DNS server the tests run: UDP and TCP on one port of 127.0.0.1, answers built
with dnspython.

Names (all under `test.`):
- `www.test.`: A 127.0.0.1 and 127.0.0.2, AAAA ::1, MX `10 mail.test.`, TXT
  `"v=spf1 -all"`; `alias.test.`: CNAME `www.test.`; `test.`: NS and SOA;
- `nxdomain.test.` (and any name not listed): NXDOMAIN; `servfail.test.`: SERVFAIL;
  `refused.test.`: REFUSED; `empty.test.`: NOERROR with no records;
- `big.test.`: 40 TXT records, too many for a 512-byte UDP answer: over UDP the answer
  comes truncated (TC set, no records), over TCP whole;
- `silent.test.`: never answered (a client times out).
`queries` counts the queries by transport (`udp`, `tcp`).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

ZONE: dict[tuple[str, str], list[str]] = {
    ("www.test.", "A"): ["127.0.0.1", "127.0.0.2"],
    ("www.test.", "AAAA"): ["::1"],
    ("www.test.", "MX"): ["10 mail.test."],
    ("www.test.", "TXT"): ['"v=spf1 -all"'],
    ("alias.test.", "CNAME"): ["www.test."],
    ("test.", "NS"): ["ns1.test."],
    ("test.", "SOA"): ["ns1.test. admin.test. 2026120301 3600 600 86400 60"],
    ("big.test.", "TXT"): [f'"record {i:02d} {"x" * 30}"' for i in range(40)],
}
EXISTING = {name for name, _ in ZONE} | {"empty.test."}
UDP_LIMIT = 512


@dataclass
class LocalDns:
    host: str
    port: int
    queries: Counter[str] = field(default_factory=Counter)

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    def answer(self, wire: bytes, transport: str) -> bytes | None:
        """The answer to one query (None: no answer at all)."""
        self.queries[transport] += 1
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text().lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        response = dns.message.make_response(query)
        if name == "silent.test.":
            return None
        if name == "servfail.test.":
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name == "refused.test.":
            response.set_rcode(dns.rcode.REFUSED)
        elif name not in EXISTING:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            records = ZONE.get((name, kind), [])
            if kind in ("A", "AAAA") and (name, "CNAME") in ZONE:
                records = []
            if records:
                response.answer.append(
                    dns.rrset.from_text_list(question.name, 60, "IN", kind, records)
                )
            elif (name, "CNAME") in ZONE:
                target = ZONE[(name, "CNAME")][0]
                response.answer.append(dns.rrset.from_text_list(name, 60, "IN", "CNAME", [target]))
                for value in ZONE.get((target, kind), []):
                    response.answer.append(
                        dns.rrset.from_text_list(target, 60, "IN", kind, [value])
                    )
        out = response.to_wire()
        if transport == "udp" and len(out) > UDP_LIMIT:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.TC
            out = truncated.to_wire()
        return out


@contextmanager
def dns_server(host: str = "127.0.0.1", port: int = 0) -> Iterator[LocalDns]:
    """The server on `host` (`port` 0: a free one, the same for UDP and TCP)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    udp, tcp = _bind_both(family, host, port)
    server = LocalDns(host, udp.getsockname()[1])
    stopping = threading.Event()

    def serve_udp() -> None:
        while not stopping.is_set():
            try:
                wire, client = udp.recvfrom(65535)
            except OSError:
                return
            with suppress(Exception):
                out = server.answer(wire, "udp")
                if out is not None:
                    udp.sendto(out, client)

    def serve_tcp() -> None:
        while not stopping.is_set():
            try:
                conn, _ = tcp.accept()
            except OSError:
                return
            threading.Thread(target=serve_connection, args=(conn,), daemon=True).start()

    def serve_connection(conn: socket.socket) -> None:
        with conn, suppress(OSError):
            conn.settimeout(5)
            while True:
                head = _read_exactly(conn, 2)
                if head is None:
                    return
                wire = _read_exactly(conn, struct.unpack("!H", head)[0])
                if wire is None:
                    return
                out = server.answer(wire, "tcp")
                if out is None:
                    return
                conn.sendall(struct.pack("!H", len(out)) + out)

    threads = [
        threading.Thread(target=serve_udp, daemon=True),
        threading.Thread(target=serve_tcp, daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        yield server
    finally:
        stopping.set()
        udp.close()
        tcp.close()


def _bind_both(family: int, host: str, port: int) -> tuple[socket.socket, socket.socket]:
    for _ in range(50):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        udp.bind((host, port))
        tcp = socket.socket(family, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((host, udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            if port:
                raise
            continue
        tcp.listen(16)
        return udp, tcp
    raise RuntimeError("no port free for both UDP and TCP")


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data
