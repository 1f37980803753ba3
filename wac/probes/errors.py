"""libcurl error codes turned into the results' error kinds (wac.result) and plain words."""

from __future__ import annotations

from urllib.parse import urlsplit

import pycurl

from wac.result import CheckError, ErrorKind, Phases

_KIND_BY_CODE: dict[int, ErrorKind] = {
    pycurl.E_COULDNT_RESOLVE_HOST: "dns",
    pycurl.E_COULDNT_RESOLVE_PROXY: "dns",
    pycurl.E_COULDNT_CONNECT: "connect",
    pycurl.E_SEND_ERROR: "connect",
    pycurl.E_RECV_ERROR: "connect",
    pycurl.E_OPERATION_TIMEDOUT: "timeout",
    pycurl.E_SSL_CONNECT_ERROR: "tls",
    pycurl.E_PEER_FAILED_VERIFICATION: "tls",
    pycurl.E_SSL_CACERT: "tls",
    pycurl.E_SSL_CERTPROBLEM: "tls",
    pycurl.E_SSL_CIPHER: "tls",
    pycurl.E_SSL_ENGINE_NOTFOUND: "tls",
    pycurl.E_SSL_ENGINE_SETFAILED: "tls",
    pycurl.E_SSL_CACERT_BADFILE: "tls",
    pycurl.E_SSL_SHUTDOWN_FAILED: "tls",
    pycurl.E_SSL_CRL_BADFILE: "tls",
    pycurl.E_SSL_ISSUER_ERROR: "tls",
    pycurl.E_USE_SSL_FAILED: "tls",
    8: "protocol",  # CURLE_WEIRD_SERVER_REPLY
    pycurl.E_GOT_NOTHING: "protocol",
    pycurl.E_PARTIAL_FILE: "protocol",
    pycurl.E_TOO_MANY_REDIRECTS: "protocol",
    pycurl.E_BAD_CONTENT_ENCODING: "protocol",
    pycurl.E_HTTP2: "protocol",
    pycurl.E_UNSUPPORTED_PROTOCOL: "protocol",
    pycurl.E_FILESIZE_EXCEEDED: "too_large",
}
# Codes that pycurl names under other names or not at all (libcurl's numbers are stable).
_KIND_BY_CODE.update(
    {
        90: "tls",  # CURLE_SSL_PINNEDPUBKEYNOTMATCH
        91: "tls",  # CURLE_SSL_INVALIDCERTSTATUS
        92: "protocol",  # CURLE_HTTP2_STREAM
        95: "protocol",  # CURLE_HTTP3
        98: "tls",  # CURLE_SSL_CLIENTCERT
        100: "too_large",  # CURLE_TOO_LARGE
    }
)


def classify_curl_error(code: int, message: str, url: str) -> CheckError:
    host = urlsplit(url).hostname or url
    if "too large response headers" in message.lower():
        # libcurl reports it as a receive error; it is the server sending too much.
        return CheckError(
            "too_large", f"{host} sent response headers over libcurl's limit ({message})"
        )
    kind = _KIND_BY_CODE.get(code, "other")
    return CheckError(kind, _describe(kind, code, message, host))


def _describe(kind: ErrorKind, code: int, message: str, host: str) -> str:
    detail = message.strip() or f"libcurl error {code}"
    if kind == "dns":
        return f"the name {host!r} does not resolve ({detail})"
    if kind == "connect":
        if code == pycurl.E_COULDNT_CONNECT:
            return f"could not connect to {host}: connection refused or unreachable ({detail})"
        return f"the connection to {host} was broken ({detail})"
    if kind == "tls":
        return f"TLS failed with {host}: {_tls_reason(detail)} ({detail})"
    if code == pycurl.E_TOO_MANY_REDIRECTS:
        return f"too many redirects, probably a redirect loop ({detail})"
    if code == pycurl.E_GOT_NOTHING:
        return f"{host} closed the connection without sending a response"
    if kind == "protocol":
        return f"the response from {host} is not valid HTTP ({detail})"
    return f"libcurl error {code}: {detail}"


def _tls_reason(detail: str) -> str:
    text = detail.lower()
    if "expired" in text:
        return "the certificate has expired"
    if "self-signed" in text or "self signed" in text:
        return "the certificate is self-signed"
    if "no alternative certificate subject name" in text or "does not match" in text:
        return "the certificate is for another host name"
    if "unable to get local issuer" in text or "unknown ca" in text:
        return "the certificate is signed by an unknown authority"
    if "wrong version number" in text:
        return "the server does not speak TLS on this port"
    return "the handshake failed"


def describe_timeout(timeout: float, phases: Phases, *, https: bool) -> str:
    """Which phase the check was in when its time ran out."""
    if phases.resolve is None:
        stage = "resolving the host name"
    elif phases.connect is None:
        stage = "connecting"
    elif https and phases.tls is None:
        stage = "in the TLS handshake"
    elif phases.processing is None:
        stage = "waiting for the response"
    else:
        stage = "reading the response body"
    return f"no complete answer within {timeout:g} s: timed out while {stage}"
