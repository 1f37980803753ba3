"""TCP probe: `tcp://host:port`. Connect; optionally TLS over the connection, send some
bytes, and look for an `expect` regex in the reply.

Phases: `resolve`, `connect`, `tls` (with `tls`), and when a reply is expected
`processing` (from the request sent, or the connection made, to the reply's first
byte) and `transfer` (from there to the end of what was read). Up when the connection
is made (and the handshake verified, and the regex found). Errors: `dns`, `connect`
(refused, unreachable, WAC_BLOCK_PRIVATE_TARGETS), `tls`, `timeout`, `pattern` (the
reply ended, or reached `max_read_bytes`, without the regex). The regex is the result's
`pattern`; `details` holds the address, the start of the reply and its length, and the
TLS version and cipher.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl

from wac.probes.contract import ProbeContext
from wac.probes.netcheck import (
    CheckFailed,
    SocketCheck,
    connect_tcp,
    describe_ssl_error,
    excerpt,
    run_check,
)
from wac.probes.tlsinfo import client_context, session_of
from wac.result import CheckResult
from wac.targets import Target
from wac.targets.options import DEFAULT_MAX_READ_BYTES as DEFAULT_MAX_READ_BYTES
from wac.targets.options import HostPort as HostPort
from wac.targets.options import TcpOptions as TcpOptions
from wac.targets.options import expect_pattern, options_as
from wac.targets.options import parse_host_port_url as parse_host_port_url

_READ_CHUNK = 65536


DEFAULT_OPTIONS = TcpOptions()


async def probe_tcp(target: Target, context: ProbeContext) -> CheckResult:
    """The `ProbeFn` of tcp:// URLs."""
    endpoint = parse_host_port_url(target.url, "tcp")
    options = options_as(target.probe_options, TcpOptions, DEFAULT_OPTIONS, "tcp")
    check = SocketCheck(target, context, "tcp")
    if options.expect is not None:
        check.pattern = options.expect

    async def body(check: SocketCheck) -> None:
        sock = await connect_tcp(check, endpoint.host, endpoint.port)
        if not (options.tls or options.send or options.expect):
            sock.close()
            check.answered = True
            return
        await _converse(check, sock, endpoint, options)

    return await run_check(check, body)


async def _converse(
    check: SocketCheck, sock: socket.socket, endpoint: HostPort, options: TcpOptions
) -> None:
    """TLS, send and read over the connection made."""
    target = check.target
    writer: asyncio.StreamWriter | None = None
    try:
        if options.tls:
            check.stage = "in the TLS handshake"
            context = client_context(
                check.context.policy.ca_bundle,
                verify=target.verify_tls,
                check_hostname=target.verify_tls,
            )
            try:
                reader, writer = await asyncio.open_connection(
                    sock=sock,
                    ssl=context,
                    server_hostname=endpoint.host,
                    ssl_handshake_timeout=check.remaining(),
                    limit=_READ_CHUNK,
                )
            except ssl.SSLError as exc:
                raise CheckFailed(
                    "tls", f"TLS failed with {endpoint.host}: {describe_ssl_error(exc)}"
                ) from None
            check.lap("tls")
            session = session_of(writer.get_extra_info("ssl_object"))
            check.tls_expires_at = session.expires_at
            check.details["tls_version"] = session.version
            check.details["tls_cipher"] = session.cipher
        else:
            reader, writer = await asyncio.open_connection(sock=sock, limit=_READ_CHUNK)
        check.answered = True
        payload = options.payload
        if payload:
            check.stage = "sending the request"
            writer.write(payload)
            await writer.drain()
        if options.expect is not None:
            check.restart_lap()
            await _read_expected(check, reader, options)
    finally:
        if writer is not None:
            writer.transport.abort()
        else:
            sock.close()


async def _read_expected(
    check: SocketCheck, reader: asyncio.StreamReader, options: TcpOptions
) -> None:
    assert options.expect is not None
    pattern = expect_pattern(options.expect)
    limit = options.max_read_bytes
    reply = bytearray()
    check.stage = "waiting for the reply"
    ended = False
    with contextlib.suppress(ConnectionResetError):  # what was read until then is the reply
        while len(reply) < limit:
            chunk = await reader.read(min(_READ_CHUNK, limit - len(reply)))
            if not chunk:
                ended = True
                break
            if not reply:
                check.lap("processing")
                check.stage = "reading the reply"
            reply += chunk
            if len(reply) - len(chunk) < 256:
                check.details["tcp_reply"] = excerpt(bytes(reply[:256]))
            check.details["tcp_reply_bytes"] = len(reply)
            if pattern.found(bytes(reply)):
                check.lap("transfer")
                check.pattern_matched = True
                return
    if not reply:
        check.lap("processing")
    check.lap("transfer")
    check.details["tcp_reply_bytes"] = len(reply)
    check.pattern_matched = False
    where = (
        f"the reply ({len(reply)} bytes, then the server closed the connection)"
        if ended or len(reply) < limit
        else f"the first {limit} bytes of the reply (max_read_bytes)"
    )
    raise CheckFailed("pattern", f"expect {options.expect!r} not found in {where}")
