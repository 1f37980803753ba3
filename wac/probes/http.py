"""HTTP(S) probe on libcurl (pycurl).

`HttpCheck` prepares one libcurl easy handle for one check and turns the finished
transfer into a `CheckResult`. Drivers (`probe_blocking`, one check at a time, and the
HTTP prober's multi engine in `wac.probes.curl`) only run the handle: all the knowledge
of libcurl's options, timings and error codes lives here.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pycurl

from wac import __version__
from wac.assertions import Observed, judge
from wac.config import redact_userinfo
from wac.probes.errors import classify_curl_error, describe_timeout
from wac.probes.policy import DEFAULT_POLICY, ProbePolicy, is_public_address
from wac.result import (
    CheckError,
    CheckResult,
    Details,
    Phases,
    new_check_id,
    utc_now,
)
from wac.targets import Target

USER_AGENT = f"wac/{__version__} (website availability checker)"
_WS = re.compile(r"\s+")


MAX_HEADERS = 1000  # response headers kept for `assert:` conditions, at most
# libcurl's negotiated version (INFO_HTTP_VERSION) as results write it.
_HTTP_VERSIONS = {
    pycurl.CURL_HTTP_VERSION_1_0: "1.0",
    pycurl.CURL_HTTP_VERSION_1_1: "1.1",
    pycurl.CURL_HTTP_VERSION_2_0: "2",
    getattr(pycurl, "CURL_HTTP_VERSION_3", 30): "3",
}


@dataclass(frozen=True, slots=True)
class Response:
    """What the off-loop verdicts read: the body (pattern, [BODY]) and the headers."""

    body: bytes
    headers: dict[str, str] | None


class HttpCheck:
    """One check of one target: the configured curl handle and what it collects.

    A check is reused for later checks (`prepare`, the HTTP prober's pool): the options
    every check shares, and the callbacks, stay set on the handle, and an ordinary target
    (GET, no headers, body, client certificate or protocol version) sets only its URL,
    plus its timeout, redirects and TLS verification when they differ from the previous
    target's. A target with more resets the handle before the next check.
    """

    __slots__ = (
        "_applied",
        "_body",
        "_body_size",
        "_custom",
        "_headers",
        "_keep_body",
        "_too_large",
        "blocked_address",
        "checked_at",
        "easy",
        "https",
        "monitor",
        "policy",
        "slot",
        "target",
    )

    def __init__(
        self,
        target: Target,
        monitor: str,
        easy: pycurl.Curl | None = None,
        *,
        policy: ProbePolicy = DEFAULT_POLICY,
        slot: object = None,
    ) -> None:
        """`easy`: a handle to reuse (it is reset first); `slot`: the driver's bookkeeping."""
        self.monitor = monitor
        self.policy = policy
        if easy is None:
            easy = pycurl.Curl()
        else:
            easy.reset()
        self.easy = easy
        self._configure_shared()
        self.prepare(target, slot)

    def prepare(self, target: Target, slot: object = None) -> None:
        """Configure the handle for a check of `target` (a new check, or a reused one)."""
        if self._custom:
            self.easy.reset()
            self._configure_shared()
        self.target = target
        self.slot = slot
        self.blocked_address: str | None = None
        self.https = target.url[:6].lower() == "https:"
        self._body: list[bytes] = []
        self._body_size = 0
        self._too_large = False
        subjects = target.assertion_subjects
        self._keep_body = target.method != "HEAD" and (
            target.compiled_pattern is not None or "BODY" in subjects
        )
        self._headers: dict[str, str] | None = {} if "HEADER" in subjects else None
        self._configure()
        self.checked_at = utc_now()

    def _configure_shared(self) -> None:
        """The options of every check; they stay set while the handle is reused."""
        c = self.easy
        c.setopt(pycurl.NOSIGNAL, 1)
        # A fresh connection and a fresh name lookup on every check, so that
        # resolve, connect and TLS times are real.
        c.setopt(pycurl.FRESH_CONNECT, 1)
        c.setopt(pycurl.FORBID_REUSE, 1)
        c.setopt(pycurl.DNS_CACHE_TIMEOUT, 0)
        # ... and a full TLS handshake: no session resumption from an earlier check.
        c.setopt(pycurl.SSL_SESSIONID_CACHE, 0)
        c.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        c.setopt(pycurl.REDIR_PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        c.setopt(pycurl.USERAGENT, USER_AGENT)
        c.setopt(pycurl.ACCEPT_ENCODING, "")
        if self.policy.ca_bundle is not None:
            c.setopt(pycurl.CAINFO, self.policy.ca_bundle)
        if self.policy.block_private:
            # Judged on the address libcurl is about to connect to, after DNS and for
            # every redirect, so neither a DNS answer nor a Location header gets around it.
            c.setopt(pycurl.OPENSOCKETFUNCTION, self._open_socket)
        c.setopt(pycurl.WRITEFUNCTION, self._on_body)
        self._custom = False  # True once an option beyond these and _configure's is set
        # (timeout in ms, max_redirects, verify_tls, https) as last set on the handle.
        self._applied: tuple[int, int, bool, bool] | None = None

    def _configure(self) -> None:
        t = self.target
        c = self.easy
        c.setopt(pycurl.URL, t.url)
        timeout_ms = max(1, round(t.timeout * 1000))
        applied = (timeout_ms, t.max_redirects, t.verify_tls, self.https)
        if applied != self._applied:
            self._applied = applied
            c.setopt(pycurl.TIMEOUT_MS, timeout_ms)
            c.setopt(pycurl.CONNECTTIMEOUT_MS, timeout_ms)
            c.setopt(pycurl.FOLLOWLOCATION, 1 if t.max_redirects > 0 else 0)
            c.setopt(pycurl.MAXREDIRS, t.max_redirects)
            c.setopt(pycurl.SSL_VERIFYPEER, 1 if t.verify_tls else 0)
            c.setopt(pycurl.SSL_VERIFYHOST, 2 if t.verify_tls else 0)
            c.setopt(pycurl.OPT_CERTINFO, 1 if self.https else 0)
        if (
            t.method == "GET"
            and not t.headers
            and t.http_auth is None
            and t.body is None
            and t.client_cert is None
            and t.http_version is None
            and t.ip_version is None
            and self._headers is None
        ):
            return
        self._custom = True
        if t.method == "HEAD":
            c.setopt(pycurl.NOBODY, 1)
        elif t.method != "GET":
            c.setopt(pycurl.CUSTOMREQUEST, t.method)
        headers = [f"{k}: {v}" for k, v in t.headers]
        if t.http_auth is not None:
            headers.append(t.http_auth.header)
        if headers:
            c.setopt(pycurl.HTTPHEADER, headers)
        if t.body is not None:
            c.setopt(pycurl.POSTFIELDSIZE, len(t.body))
            c.setopt(pycurl.COPYPOSTFIELDS, t.body)
            c.setopt(pycurl.CUSTOMREQUEST, t.method)
        if t.client_cert is not None:
            c.setopt(pycurl.SSLCERT, t.client_cert)
            if t.client_key is not None:
                c.setopt(pycurl.SSLKEY, t.client_key)
        if t.http_version == "2":
            c.setopt(
                pycurl.HTTP_VERSION,
                pycurl.CURL_HTTP_VERSION_2TLS
                if self.https
                else pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE,
            )
        elif t.http_version == "1.1":
            c.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        if t.ip_version is not None:
            c.setopt(
                pycurl.IPRESOLVE, pycurl.IPRESOLVE_V4 if t.ip_version == 4 else pycurl.IPRESOLVE_V6
            )
        if self._headers is not None:
            c.setopt(pycurl.HEADERFUNCTION, self._on_header)

    def _on_header(self, line: bytes) -> None:
        headers = self._headers
        assert headers is not None
        if line.startswith(b"HTTP/"):
            headers.clear()  # a new response (after a redirect or a 100 Continue)
            return
        name, sep, value = line.partition(b":")
        if sep and len(headers) < MAX_HEADERS:
            headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")

    def _open_socket(self, purpose: int, address: tuple[int, int, int, tuple[Any, ...]]) -> Any:
        family, socktype, protocol, sockaddr = address
        if not is_public_address(str(sockaddr[0])):
            self.blocked_address = str(sockaddr[0])
            return pycurl.SOCKET_BAD  # libcurl then fails with "could not connect"
        return socket.socket(family, socktype, protocol)

    def _on_body(self, chunk: bytes) -> int | None:
        self._body_size += len(chunk)
        if self._body_size > self.target.max_body_bytes:
            self._too_large = True
            return 0  # a short count makes libcurl abort with CURLE_WRITE_ERROR
        if self._keep_body:
            self._body.append(chunk)
        return None

    def finish(self, curl_code: int, curl_message: str) -> CheckResult:
        """The result of the finished transfer; `curl_code` 0 means libcurl succeeded."""
        result, response = self.finish_transfer(curl_code, curl_message)
        return result if response is None else judge_response(result, self.target, response)

    def finish_transfer(
        self, curl_code: int, curl_message: str
    ) -> tuple[CheckResult, Response | None]:
        """The result without the verdicts on the body, and the response they must be
        made on (None: nothing to look at). The check loop has them made on another
        thread (`judge_response`), so that no body, pattern or JSON can hold it; the
        `assert:` conditions that need no body are judged here."""
        c = self.easy
        t = self.target
        status = int(c.getinfo(pycurl.RESPONSE_CODE)) or None
        https = self.https
        phases, total_ms = _phases(c, https=https, responded=status is not None)
        error: CheckError | None = None
        body: bytes | None = None
        if self.blocked_address is not None:
            host = urlsplit(c.getinfo(pycurl.EFFECTIVE_URL) or t.url).hostname
            error = CheckError(
                "connect",
                f"refused by WAC_BLOCK_PRIVATE_TARGETS: {host} resolves to "
                f"{self.blocked_address}, which is not a public address",
            )
        elif self._too_large:
            error = CheckError(
                "too_large",
                f"response body is larger than the {t.max_body_bytes} byte limit "
                "(raise max_body_size if this is expected)",
            )
        elif curl_code == pycurl.E_OPERATION_TIMEDOUT:
            error = CheckError("timeout", describe_timeout(t.timeout, phases, https=https))
        elif curl_code != 0:
            error = classify_curl_error(curl_code, curl_message, t.url)
        elif status is None:
            error = CheckError("protocol", "no HTTP status in the response")
        else:
            if self._keep_body:
                body = b"".join(self._body)
            if not t.status_expected(status):
                error = CheckError("status", _status_message(status, t))
        tls_expires_at = _certificate_expiry(c) if https else None
        effective = c.getinfo(pycurl.EFFECTIVE_URL)
        details: Details | None = None
        if t.http_version is not None and status is not None:
            version = _HTTP_VERSIONS.get(c.getinfo(pycurl.INFO_HTTP_VERSION), "other")
            details = Details(http_version=version)
            if error is None and version != t.http_version:
                error = CheckError(
                    "protocol",
                    f"the server answered over HTTP/{version}, not HTTP/{t.http_version} "
                    "(http_version)",
                )
        result = CheckResult(
            v=1,
            id=new_check_id(),
            target=t.id,
            url=t.public_url,
            monitor=self.monitor,
            checked_at=self.checked_at,
            ok=error is None,
            status_code=status,
            response_time_ms=total_ms if error is None or status is not None else None,
            phases=phases,
            pattern=t.pattern,
            pattern_matched=None,
            tls_expires_at=tls_expires_at,
            error=error,
            final_url=redact_userinfo(effective) if effective and effective != t.url else None,
            details=details,
        )
        self._body = []
        if body is not None:
            return result, Response(body, self._headers)
        if t.assertions and error is None:
            result = with_assertions(result, t, None, self._headers)
        return result, None

    def release(self) -> None:
        """Drop what the finished check holds; `prepare` makes it ready for the next."""
        self._body = []
        self._headers = None
        self.slot = None

    def close(self) -> None:
        self._body = []
        self.easy.close()


def judge_response(result: CheckResult, target: Target, response: Response) -> CheckResult:
    """The verdicts that read the body: the pattern's, then the `assert:` conditions'
    (when the check has not failed already)."""
    if target.compiled_pattern is not None:
        result = with_pattern_verdict(result, target, response.body)
    if target.assertions and result.error is None:
        result = with_assertions(result, target, response.body, response.headers)
    return result


def with_assertions(
    result: CheckResult, target: Target, body: bytes | None, headers: dict[str, str] | None
) -> CheckResult:
    """`result` failed with kind `assertion` when one of the target's conditions fails."""
    observed = Observed(
        now=utc_now(),
        status=result.status_code,
        response_time_ms=result.response_time_ms,
        tls_expires_at=result.tls_expires_at,
        headers=headers,
        body=body,
    )
    error = judge(target.assertions, observed)
    if error is None:
        return result
    return msgspec.structs.replace(result, ok=False, error=error)


def with_pattern_verdict(result: CheckResult, target: Target, body: bytes) -> CheckResult:
    """`result` with `pattern_matched` set; a `pattern` failure when it is not found and
    nothing else failed. RE2 takes time linear in the body and releases the GIL."""
    assert target.compiled_pattern is not None
    found = target.compiled_pattern.found(body)
    if found or result.error is not None:
        return msgspec.structs.replace(result, pattern_matched=found)
    return msgspec.structs.replace(
        result,
        pattern_matched=False,
        ok=False,
        error=CheckError("pattern", f"pattern {target.pattern!r} not found in the body"),
    )


def probe_blocking(
    target: Target, monitor: str, *, policy: ProbePolicy = DEFAULT_POLICY
) -> CheckResult:
    """Run one check to completion in the calling thread (one check at a time)."""
    check = HttpCheck(target, monitor, policy=policy)
    try:
        check.easy.perform()
        code, message = 0, ""
    except pycurl.error as exc:
        code, message = exc.args[0], exc.args[1]
    try:
        return check.finish(code, message)
    finally:
        check.close()


_TIMESTAMPS = (
    pycurl.NAMELOOKUP_TIME_T,
    pycurl.CONNECT_TIME_T,
    pycurl.APPCONNECT_TIME_T,
    pycurl.PRETRANSFER_TIME_T,
    pycurl.STARTTRANSFER_TIME_T,
    pycurl.TOTAL_TIME_T,
)


def _phases(c: pycurl.Curl, *, https: bool, responded: bool) -> tuple[Phases, float | None]:
    """blackbox_exporter's phases from libcurl's timestamps (µs since the start).

    After redirects libcurl adds up each request's times, so each phase is the sum
    over the requests of the check. Milliseconds rounded to the µs, written out in
    place: this runs once per check.
    """
    getinfo = c.getinfo
    lookup, connect, appconnect, pretransfer, first_byte, total = map(getinfo, _TIMESTAMPS)
    connected = connect > 0
    handshake = https and appconnect > 0
    ready = appconnect if handshake else connect
    answered = responded and connected and first_byte > 0
    return (
        Phases(
            resolve=round(lookup / 1000.0, 3) if lookup > 0 else None,
            connect=round((connect - lookup) / 1000.0, 3) if connected else None,
            tls=round((appconnect - connect) / 1000.0, 3) if handshake else None,
            processing=round((first_byte - max(pretransfer, ready)) / 1000.0, 3)
            if answered
            else None,
            transfer=round((total - first_byte) / 1000.0, 3) if answered else None,
        ),
        round(total / 1000.0, 3) if total > 0 else None,
    )


def _status_message(status: int, target: Target) -> str:
    if target.expect_status is None:
        return f"HTTP status {status}, expected 2xx or 3xx"
    wanted = ", ".join(str(s) for s in sorted(target.expect_status))
    return f"HTTP status {status}, expected {wanted}"


def _certificate_expiry(c: pycurl.Curl) -> datetime | None:
    try:
        chain = c.getinfo(pycurl.INFO_CERTINFO)
    except pycurl.error:
        return None
    if not chain:
        return None
    for key, value in chain[0]:
        if key.lower() == "expire date":
            return parse_cert_time(value)
    return None


def parse_cert_time(value: str) -> datetime | None:
    """libcurl prints OpenSSL's form, e.g. `Mar  1 12:00:00 2027 GMT`."""
    text = _WS.sub(" ", value.strip())
    for fmt in ("%b %d %H:%M:%S %Y %Z", "%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None
