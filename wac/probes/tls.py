"""TLS probe: `tls://host:port`. The handshake only, and what it tells about the server.

Reports whether the chain verifies against the policy's CAs (and OpenSSL's reason when
not), whether the certificate is for the host name, its expiry (`tls_expires_at`), and
the negotiated version and cipher. Phases: `resolve`, `connect`, `tls`. Up when the
chain verifies, the host name matches and the version is at least `min_tls_version`
(with `verify_tls: false`, only the version counts). Errors: `dns`, `connect`, `tls`
(each of those three reasons, or a handshake that failed), `timeout`.

When the chain does not verify, a second handshake that verifies nothing reads the
certificate, so that an expired or self-signed one still shows its expiry and names;
the phases and the response time are those of the first.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

from wac.probes.contract import ProbeContext
from wac.probes.netcheck import (
    CheckFailed,
    SocketCheck,
    certificate_problem,
    connect_tcp,
    describe_ssl_error,
    run_check,
)
from wac.probes.tlsinfo import (
    TLS_VERSIONS,
    Session,
    certificate_names,
    client_context,
    host_matches,
    session_of,
)
from wac.result import CheckResult
from wac.targets import Target
from wac.targets.options import TlsOptions as TlsOptions
from wac.targets.options import options_as, parse_host_port_url

_VERSION_ORDER = list(TLS_VERSIONS)


DEFAULT_OPTIONS = TlsOptions()


async def probe_tls(target: Target, context: ProbeContext) -> CheckResult:
    """The `ProbeFn` of tls:// URLs."""
    endpoint = parse_host_port_url(target.url, "tls")
    options = options_as(target.probe_options, TlsOptions, DEFAULT_OPTIONS, "tls")
    check = SocketCheck(target, context, "tls")
    host = endpoint.host

    async def body(check: SocketCheck) -> None:
        verify = target.verify_tls
        sock = await connect_tcp(check, host, endpoint.port)
        family, peer = sock.family, sock.getpeername()
        check.stage = "in the TLS handshake"
        verify_error: str | None = None
        context = client_context(
            check.context.policy.ca_bundle, verify=verify, check_hostname=False
        )
        try:
            session = await handshake(sock, context, host, check.remaining())
        except ssl.SSLCertVerificationError as exc:
            verify_error = exc.verify_message or str(exc)
        except ssl.SSLError as exc:
            raise CheckFailed("tls", f"TLS failed with {host}: {describe_ssl_error(exc)}") from None
        check.lap("tls")
        check.answered = True
        check.response_time_ms = (time.perf_counter() - check.started) * 1000
        if verify_error is not None:
            session = await _unverified_session(check, family, peer, host)
        _report(check, session, verify=verify, verify_error=verify_error)
        _judge(check, session, host, verify=verify, verify_error=verify_error, options=options)

    return await run_check(check, body)


async def handshake(
    sock: socket.socket, context: ssl.SSLContext, host: str, timeout: float
) -> Session:
    """A TLS handshake over the connected `sock`, then the connection dropped."""
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_connection(
            asyncio.Protocol,
            sock=sock,
            ssl=context,
            server_hostname=host,
            ssl_handshake_timeout=timeout,
        )
    except BaseException:
        sock.close()
        raise
    try:
        return session_of(transport.get_extra_info("ssl_object"))
    finally:
        transport.abort()


async def _unverified_session(
    check: SocketCheck, family: int, peer: tuple[object, ...], host: str
) -> Session:
    """The certificate and session of a handshake that verifies nothing (same address)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, peer)
    except OSError:
        sock.close()
        return Session(None, None, None)
    except BaseException:
        sock.close()
        raise
    context = client_context(None, verify=False, check_hostname=False)
    try:
        return await handshake(sock, context, host, check.remaining())
    except (ssl.SSLError, OSError):
        return Session(None, None, None)


def _report(
    check: SocketCheck, session: Session, *, verify: bool, verify_error: str | None
) -> None:
    check.tls_expires_at = session.expires_at
    details = check.details
    details["tls_version"] = session.version
    details["tls_cipher"] = session.cipher
    if verify:
        details["tls_verified"] = verify_error is None
        if verify_error is not None:
            details["tls_verify_error"] = verify_error[:512]


def _judge(
    check: SocketCheck,
    session: Session,
    host: str,
    *,
    verify: bool,
    verify_error: str | None,
    options: TlsOptions,
) -> None:
    """Fail the check for the first reason there is, in the order the README gives."""
    certificate = session.certificate
    matched = host_matches(certificate, host) if certificate is not None else None
    if matched is not None:
        check.details["tls_host_matched"] = matched
    if verify_error is not None:
        raise CheckFailed("tls", f"TLS failed with {host}: {certificate_problem(verify_error)}")
    if verify and matched is False:
        assert certificate is not None
        raise CheckFailed(
            "tls",
            f"TLS failed with {host}: the certificate is for another host name "
            f"(it is for {certificate_names(certificate)})",
        )
    wanted = options.min_tls_version
    if wanted is not None and session.version is not None and _below(session.version, wanted):
        raise CheckFailed(
            "tls",
            f"TLS failed with {host}: the handshake negotiated {session.version}, below "
            f"min_tls_version {wanted}",
        )


def _below(version: str, wanted: str) -> bool:
    if version not in TLS_VERSIONS:  # SSLv3 and older
        return True
    return _VERSION_ORDER.index(version) < _VERSION_ORDER.index(wanted)
