"""What the socket probes (tcp, tls, dns, icmp) share: one check in progress and its result.

`SocketCheck` holds what a check has measured so far: the phases (each one ends a lap
of one stopwatch), what it is doing now (the timeout's message names it), its details,
and builds the `CheckResult`. `run_check` runs a probe's body within the target's
timeout and turns what it raised into the result's error: `CheckFailed` (a probe's own
verdict), a timeout, or an `OSError` of the network (`describe_os_error`).
`resolve` finds a host's addresses off the loop's thread and applies the policy
(`WAC_BLOCK_PRIVATE_TARGETS`) to each, as the HTTP probe does; `connect_tcp` connects
to the first address that answers.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

import msgspec

from wac.assertions import Observed, judge
from wac.probes.contract import ProbeContext
from wac.probes.policy import is_public_address
from wac.result import (
    MAX_MS,
    CheckError,
    CheckResult,
    Details,
    ErrorKind,
    Phases,
    new_check_id,
    utc_now,
)
from wac.targets import Target

# An address as the socket module gives it: (family, sockaddr).
Address = tuple[int, tuple[Any, ...]]


class CheckFailed(Exception):
    """A probe's verdict: the check failed, of this kind, for this reason."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.error = CheckError(kind, message)


class SocketCheck:
    """One check in progress (see the module's docstring)."""

    __slots__ = (
        "_lap_start",
        "answered",
        "checked_at",
        "context",
        "deadline",
        "details",
        "pattern",
        "pattern_matched",
        "phases",
        "probe",
        "response_time_ms",
        "stage",
        "started",
        "target",
        "tls_expires_at",
    )

    def __init__(self, target: Target, context: ProbeContext, probe: str) -> None:
        self.target = target
        self.context = context
        self.probe = probe
        self.checked_at = utc_now()
        self.started = self._lap_start = time.perf_counter()
        self.deadline = self.started + target.timeout
        self.phases: dict[str, float] = {}
        self.stage = "starting"
        self.details: dict[str, Any] = {}
        self.pattern: str | None = None
        self.pattern_matched: bool | None = None
        self.tls_expires_at: Any = None
        self.answered = False  # the server answered: the result has a response time
        self.response_time_ms: float | None = None  # None: the whole check's time

    def lap(self, phase: str) -> None:
        """End `phase` now (adding to it if it ran before); the next starts now."""
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + (now - self._lap_start) * 1000
        self._lap_start = now

    def restart_lap(self) -> None:
        self._lap_start = time.perf_counter()

    def remaining(self) -> float:
        """Seconds left of the target's timeout (never below a millisecond)."""
        return max(0.001, self.deadline - time.perf_counter())

    def result(self, error: CheckError | None) -> CheckResult:
        rt = self.response_time_ms
        if rt is None:
            rt = _bounded_ms((time.perf_counter() - self.started) * 1000)
        phases = {name: round(_bounded_ms(ms), 3) for name, ms in self.phases.items()}
        return CheckResult(
            v=1,
            id=new_check_id(),
            target=self.target.id,
            url=self.target.public_url,
            monitor=self.context.monitor,
            checked_at=self.checked_at,
            ok=error is None,
            status_code=None,
            # A check that failed before an answer has no response time, as for HTTP.
            response_time_ms=round(rt, 3) if self.answered else None,
            phases=Phases(**phases),
            pattern=self.pattern,
            pattern_matched=self.pattern_matched,
            tls_expires_at=self.tls_expires_at,
            error=error,
            probe=self.probe,
            details=Details(**self.details) if self.details else None,
        )


def _bounded_ms(ms: float) -> float:
    return min(max(ms, 0.0), MAX_MS)


async def run_check(
    check: SocketCheck,
    body: Callable[[SocketCheck], Awaitable[None]],
    *,
    grace_s: float = 0.0,
) -> CheckResult:
    """Run `body` within the target's timeout (plus `grace_s`, for a probe that keeps
    its own deadline); what it raises becomes the result's error."""
    error: CheckError | None = None
    try:
        async with asyncio.timeout(check.target.timeout + grace_s):
            await body(check)
    except CheckFailed as exc:
        error = exc.error
    except TimeoutError:
        error = CheckError(
            "timeout",
            f"no complete answer within {check.target.timeout:g} s: timed out while {check.stage}",
        )
    except ssl.SSLError as exc:
        error = CheckError("tls", f"TLS failed: {describe_ssl_error(exc)}")
    except OSError as exc:
        error = describe_os_error(exc, check.stage)
    result = check.result(error)
    if error is None and check.target.assertions:
        return with_assertions(result, check)
    return result


def with_assertions(result: CheckResult, check: SocketCheck) -> CheckResult:
    """`result` failed with kind `assertion` when one of the target's conditions fails."""
    details = check.details
    observed = Observed(
        now=utc_now(),
        response_time_ms=result.response_time_ms,
        tls_expires_at=result.tls_expires_at,
        dns_answers=details.get("dns_answers"),
        dns_rcode=details.get("dns_rcode"),
    )
    error = judge(check.target.assertions, observed)
    if error is None:
        return result
    return msgspec.structs.replace(result, ok=False, error=error)


def describe_os_error(exc: OSError, stage: str) -> CheckError:
    """A network error in plain words, with the error kind it counts as."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, ConnectionRefusedError):
        return CheckError("connect", f"{stage}: connection refused")
    if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
        return CheckError("connect", f"{stage}: unreachable ({reason})")
    if isinstance(exc, ConnectionError):  # reset, aborted, broken pipe
        return CheckError("connect", f"{stage}: the connection was broken ({reason})")
    if isinstance(exc, socket.gaierror):
        return CheckError("dns", f"{stage}: the name does not resolve ({reason})")
    return CheckError("other", f"{stage}: {type(exc).__name__}: {reason}")


def describe_ssl_error(exc: ssl.SSLError) -> str:
    """OpenSSL's reason in the words the HTTP probe uses."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return certificate_problem(exc.verify_message or str(exc))
    reason = exc.reason or exc.strerror or str(exc)
    text = str(reason).lower()
    if "wrong_version_number" in text or "wrong version number" in text:
        return f"the server does not speak TLS on this port ({reason})"
    if "unsupported_protocol" in text or "protocol version" in text:
        return f"no TLS version both sides accept ({reason})"
    return f"the handshake failed ({reason})"


def certificate_problem(verify_message: str) -> str:
    """OpenSSL's verification message, with what it means first."""
    text = verify_message.lower()
    if "expired" in text:
        meaning = "the certificate has expired"
    elif "self-signed" in text or "self signed" in text:
        meaning = "the certificate is self-signed"
    elif "hostname mismatch" in text or "ip address mismatch" in text:
        meaning = "the certificate is for another host name"
    elif "unable to get local issuer" in text or "unknown ca" in text:
        meaning = "the certificate is signed by an unknown authority"
    elif "not yet valid" in text:
        meaning = "the certificate is not valid yet"
    else:
        return f"the certificate does not verify ({verify_message})"
    return f"{meaning} ({verify_message})"


@lru_cache(maxsize=65536)  # every check of a target asks again
def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve(
    check: SocketCheck,
    host: str,
    port: int | None,
    *,
    kind: socket.SocketKind = socket.SOCK_STREAM,
    apply_policy: bool = True,
) -> list[Address]:
    """The addresses of `host` (an IP address is its own), the `resolve` phase timed.

    Names are looked up with the system's resolver (getaddrinfo, in a helper thread, as
    libcurl does). With WAC_BLOCK_PRIVATE_TARGETS on, addresses that are not public are
    dropped, and none left is a `connect` failure naming the address.
    """
    check.stage = f"resolving {host}"
    literal = ip_literal(host)
    if literal is not None:
        family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
        number = port or 0
        sockaddr: tuple[Any, ...] = (
            (str(literal), number, 0, 0) if literal.version == 6 else (str(literal), number)
        )
        found: list[Address] = [(family, sockaddr)]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=kind)
        except socket.gaierror as exc:
            raise CheckFailed(
                "dns", f"the name {host!r} does not resolve ({exc.strerror or exc})"
            ) from None
        found = []
        for family, _, _, _, address in infos:
            entry = (int(family), tuple(address))
            if entry not in found:
                found.append(entry)
    check.lap("resolve")
    if apply_policy and check.context.policy.block_private:
        allowed = [a for a in found if is_public_address(str(a[1][0]))]
        if not allowed:
            raise CheckFailed(
                "connect",
                f"refused by WAC_BLOCK_PRIVATE_TARGETS: {host} resolves to {found[0][1][0]}, "
                "which is not a public address",
            )
        found = allowed
    if not found:
        raise CheckFailed("dns", f"the name {host!r} has no address")
    return found


async def connect_tcp(check: SocketCheck, host: str, port: int) -> socket.socket:
    """A TCP connection to the first of `host`'s addresses that accepts one; `resolve`
    and `connect` timed. The caller closes it."""
    addresses = await resolve(check, host, port)
    loop = asyncio.get_running_loop()
    last: OSError | None = None
    for family, sockaddr in addresses:
        check.stage = f"connecting to {host_port(host, port)}"
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, sockaddr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        except BaseException:
            sock.close()
            raise
        check.lap("connect")
        check.details["address"] = str(sockaddr[0])
        return sock
    assert last is not None
    error = describe_os_error(last, f"could not connect to {host_port(host, port)}")
    raise CheckFailed(error.kind, error.message)


def host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def excerpt(data: bytes, limit: int = 256) -> str:
    """The first `limit` bytes as printable ASCII; other bytes as `\\xNN`."""
    return "".join(
        chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}" for b in data[:limit]
    )
