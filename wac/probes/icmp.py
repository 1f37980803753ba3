"""ICMP probe: `icmp://host`. Echo requests (`count`, default 3), giving loss and round trips.

Requests go out `interval` apart (default 200 ms; shortened so that the last one leaves
within the first half of the timeout); the replies are awaited until the timeout, and
those that did not come by then are lost. Up when at least one reply came and the loss
is at most `max_loss_pct` (when given). Phases: `resolve`; `response_time_ms` is the
average round trip. Errors: `dns`, `connect` (unreachable, WAC_BLOCK_PRIVATE_TARGETS),
`packet_loss`, `other` (no ICMP socket may be opened: the message says how to allow
one). `details` holds the address, the socket kind, the counts, the loss and the
shortest, average and longest round trips. IPv4 and IPv6.

Two kinds of socket send echo requests on Linux:
- unprivileged ICMP datagram sockets, for the groups in `net.ipv4.ping_group_range`
  (the sysctl also governs IPv6); the kernel sets each socket's identifier and gives
  it only the replies to its own requests;
- raw sockets, for root or a process with CAP_NET_RAW; each gets a copy of every ICMP
  packet the host receives, so the probe filters by identifier, sequence and a random
  token in the payload.
The probe tries a datagram socket first, then a raw one. The checks of one asyncio
loop share one socket per address family (opened by the first check in flight, closed
when the last one ends), and tell their replies apart by sequence number.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import socket
import struct
import time
import weakref
from typing import Any

from wac.probes.contract import ProbeContext
from wac.probes.netcheck import CheckFailed, SocketCheck, resolve, run_check
from wac.result import CheckResult
from wac.targets import Target
from wac.targets.options import DEFAULT_COUNT as DEFAULT_COUNT
from wac.targets.options import DEFAULT_INTERVAL_S as DEFAULT_INTERVAL_S
from wac.targets.options import IcmpOptions as IcmpOptions
from wac.targets.options import options_as
from wac.targets.options import parse_icmp_url as parse_icmp_url

PAYLOAD_BYTES = 56  # as ping(8): 64 bytes with the ICMP header
# The probe's own deadline comes first; the target's timeout, this much later, is a net.
_GRACE_S = 0.1

ICMP_UNAVAILABLE = (
    "cannot send ICMP echo requests: this process may open neither an unprivileged ICMP "
    'socket (allow its group: sysctl -w net.ipv4.ping_group_range="0 2147483647") nor a '
    "raw one (run it as root or with CAP_NET_RAW, e.g. setcap cap_net_raw+ep on its "
    "Python interpreter)"
)

_ECHO_REQUEST: dict[int, int] = {socket.AF_INET: 8, socket.AF_INET6: 128}
_ECHO_REPLY: dict[int, int] = {socket.AF_INET: 0, socket.AF_INET6: 129}
_PROTOCOL: dict[int, int] = {
    socket.AF_INET: socket.IPPROTO_ICMP,
    socket.AF_INET6: socket.IPPROTO_ICMPV6,
}
_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence


DEFAULT_OPTIONS = IcmpOptions()


class IcmpUnavailable(Exception):
    """Neither kind of ICMP socket may be opened by this process."""


def open_icmp_socket(family: int) -> tuple[socket.socket, str]:
    """A non-blocking ICMP socket of `family` and its kind (`datagram` or `raw`);
    IcmpUnavailable when neither may be opened."""
    protocol = _PROTOCOL[family]
    for kind, socktype in (("datagram", socket.SOCK_DGRAM), ("raw", socket.SOCK_RAW)):
        try:
            sock = socket.socket(family, socktype, protocol)
        except PermissionError:
            continue
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EPROTONOSUPPORT):
                continue
            raise
        sock.setblocking(False)
        return sock, kind
    raise IcmpUnavailable(ICMP_UNAVAILABLE)


def icmp_unavailable() -> str | None:
    """Why this process cannot send echo requests (over IPv4), or None when it can.

    For a check at start-up; the probe reports the same line in its result otherwise.
    """
    try:
        sock, _ = open_icmp_socket(socket.AF_INET)
    except IcmpUnavailable as exc:
        return str(exc)
    sock.close()
    return None


async def probe_icmp(target: Target, context: ProbeContext) -> CheckResult:
    """The `ProbeFn` of icmp:// URLs."""
    host = parse_icmp_url(target.url)
    options = options_as(target.probe_options, IcmpOptions, DEFAULT_OPTIONS, "icmp")
    check = SocketCheck(target, context, "icmp")

    async def body(check: SocketCheck) -> None:
        addresses = await resolve(check, host, None, kind=socket.SOCK_RAW)
        family, sockaddr = addresses[0]
        address = str(sockaddr[0])
        check.details["address"] = address
        check.stage = f"sending echo requests to {address}"
        try:
            pinger = _Pinger.acquire(family)
        except IcmpUnavailable as exc:
            raise CheckFailed("other", str(exc)) from None
        except OSError as exc:
            raise CheckFailed(
                "connect", f"cannot open an ICMP socket for {address} ({exc.strerror or exc})"
            ) from None
        check.details["icmp_socket"] = pinger.kind
        replies: list[asyncio.Future[float]] = []
        try:
            spacing = min(options.interval, target.timeout / (2 * options.count))
            for index in range(options.count):
                if index:
                    await asyncio.sleep(spacing)
                replies.append(pinger.send(sockaddr))
            check.stage = f"waiting for echo replies from {address}"
            await asyncio.wait(replies, timeout=max(0.0, check.remaining() - _GRACE_S))
        finally:
            pinger.forget(replies)
            pinger.release()
        _judge(check, options, address, [r.result() for r in replies if _answered(r)])

    return await run_check(check, body, grace_s=_GRACE_S)


def _answered(reply: asyncio.Future[float]) -> bool:
    return reply.done() and not reply.cancelled() and reply.exception() is None


def _judge(check: SocketCheck, options: IcmpOptions, address: str, rtts: list[float]) -> None:
    sent, received = options.count, len(rtts)
    loss = round(100.0 * (sent - received) / sent, 3)
    details = check.details
    details.update(icmp_sent=sent, icmp_received=received, icmp_loss_pct=loss)
    if rtts:
        average = sum(rtts) / received
        details.update(
            icmp_rtt_min_ms=round(min(rtts), 3),
            icmp_rtt_avg_ms=round(average, 3),
            icmp_rtt_max_ms=round(max(rtts), 3),
        )
        check.answered = True
        check.response_time_ms = average
    lost = f"{sent - received} of {sent} echo requests to {address} unanswered ({loss:g}% loss)"
    if not rtts:
        raise CheckFailed("packet_loss", f"{lost} within {check.target.timeout:g} s")
    if options.max_loss_pct is not None and loss > options.max_loss_pct:
        raise CheckFailed("packet_loss", f"{lost}, over max_loss_pct {options.max_loss_pct:g}")


# ---------------------------------------------------------------------------- the socket

_PINGERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, _Pinger]] = (
    weakref.WeakKeyDictionary()
)


class _Pinger:
    """One ICMP socket of one family on one asyncio loop, shared by the checks in flight."""

    def __init__(self, loop: asyncio.AbstractEventLoop, family: int) -> None:
        self.sock, self.kind = open_icmp_socket(family)
        self.loop = loop
        self.family = family
        self.identifier = random.getrandbits(16)  # the kernel sets its own on datagram sockets
        self.token = os.urandom(8)
        self.waiting: dict[int, tuple[asyncio.Future[float], str, float]] = {}
        self.users = 0
        self._sequence = random.getrandbits(16)
        loop.add_reader(self.sock.fileno(), self._readable)

    @classmethod
    def acquire(cls, family: int) -> _Pinger:
        loop = asyncio.get_running_loop()
        pingers = _PINGERS.setdefault(loop, {})
        pinger = pingers.get(family)
        if pinger is None:
            pinger = pingers[family] = cls(loop, family)
        pinger.users += 1
        return pinger

    def release(self) -> None:
        self.users -= 1
        if self.users > 0:
            return
        pingers = _PINGERS.get(self.loop, {})
        if pingers.get(self.family) is self:
            del pingers[self.family]
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()

    def send(self, sockaddr: tuple[Any, ...]) -> asyncio.Future[float]:
        """One echo request; the future gets its round trip in ms when the reply comes.

        Raises OSError when the kernel refuses it (no route to the address)."""
        sequence = self._next_sequence()
        future: asyncio.Future[float] = self.loop.create_future()
        packet = _echo_request(self.family, self.identifier, sequence, self.token)
        self.waiting[sequence] = (future, _plain(str(sockaddr[0])), time.perf_counter())
        try:
            self.sock.sendto(packet, sockaddr)
        except BlockingIOError:
            del self.waiting[sequence]  # the socket's buffer is full: this request is lost
            future.cancel()
        except OSError:
            del self.waiting[sequence]
            raise
        return future

    def forget(self, replies: list[asyncio.Future[float]]) -> None:
        """Stop waiting for these replies (the check is over)."""
        pending = {id(f) for f in replies if not f.done()}
        for sequence in [s for s, (f, _, _) in self.waiting.items() if id(f) in pending]:
            future, _, _ = self.waiting.pop(sequence)
            future.cancel()

    def _next_sequence(self) -> int:
        for _ in range(65536):
            self._sequence = (self._sequence + 1) & 0xFFFF
            if self._sequence not in self.waiting:
                return self._sequence
        raise CheckFailed("other", "65536 echo requests in flight on one socket")

    def _readable(self) -> None:
        received = time.perf_counter()
        for _ in range(1024):  # then let the loop run other work, and come back
            try:
                data, source = self.sock.recvfrom(65535)
            except BlockingIOError:
                return
            except OSError:
                continue  # an ICMP error queued on the socket: the request stays unanswered
            reply = _echo_reply(self.family, data, raw=self.kind == "raw")
            if reply is None:
                continue
            identifier, sequence, payload = reply
            if self.kind == "raw" and identifier != self.identifier:
                continue
            if payload[: len(self.token)] != self.token:
                continue
            entry = self.waiting.get(sequence)
            if entry is None or entry[1] != _plain(str(source[0])):
                continue
            del self.waiting[sequence]
            future, _, sent = entry
            if not future.done():
                future.set_result((received - sent) * 1000)


def _plain(address: str) -> str:
    return address.split("%", 1)[0]


def _echo_request(family: int, identifier: int, sequence: int, token: bytes) -> bytes:
    payload = token + bytes(PAYLOAD_BYTES - len(token))
    header = _HEADER.pack(_ECHO_REQUEST[family], 0, 0, identifier, sequence)
    if family == socket.AF_INET6:
        return header + payload  # the kernel computes ICMPv6 checksums
    checksum = internet_checksum(header + payload)
    return _HEADER.pack(_ECHO_REQUEST[family], 0, checksum, identifier, sequence) + payload


def _echo_reply(family: int, data: bytes, *, raw: bool) -> tuple[int, int, bytes] | None:
    """(identifier, sequence, payload) of an echo reply; None for any other packet."""
    if raw and family == socket.AF_INET:
        if not data:
            return None
        data = data[(data[0] & 0x0F) * 4 :]  # a raw IPv4 socket reads the IP header too
    if len(data) < _HEADER.size:
        return None
    kind, code, _, identifier, sequence = _HEADER.unpack_from(data)
    if kind != _ECHO_REPLY[family] or code != 0:
        return None
    return identifier, sequence, data[_HEADER.size :]


def internet_checksum(data: bytes) -> int:
    """RFC 1071: the ones' complement of the ones' complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
