"""TLS for the socket probes: client contexts that verify as the HTTP probe does, and what
a finished handshake tells (version, cipher, certificate expiry, host name match).

The HTTP probe has libcurl verify the server's chain against the CAs of the policy
(`WAC_CA_BUNDLE`, else the system's) and its host name, unless `verify_tls` is false.
`client_context` makes the same rules for Python's `ssl` (OpenSSL underneath): a
context is costly to make (it loads the CAs), so each kind is made once. The host name
of a certificate is matched by `service_identity` (RFC 6125, the rules OpenSSL and
libcurl apply), so the tls probe can say "chain verified" and "host name matched"
apart.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import service_identity
from cryptography import x509
from service_identity.cryptography import (
    verify_certificate_hostname,
    verify_certificate_ip_address,
)

from wac.probes.netcheck import ip_literal
from wac.result import EARLIEST_EXPIRY, LATEST_TIME

# Names of the versions `min_tls_version` takes, in order.
TLS_VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


@lru_cache(maxsize=32)
def client_context(ca_bundle: str | None, *, verify: bool, check_hostname: bool) -> ssl.SSLContext:
    """A client context: the chain verified against `ca_bundle` (the system's CAs when
    None) when `verify`, the host name too when `check_hostname`; nothing verified
    otherwise (the handshake still tells version, cipher and certificate)."""
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context(cafile=ca_bundle)
    context.check_hostname = check_hostname
    return context


@dataclass(frozen=True)
class Session:
    """What one handshake negotiated and the server's certificate."""

    version: str | None
    cipher: str | None
    certificate: x509.Certificate | None

    @property
    def expires_at(self) -> datetime | None:
        if self.certificate is None:
            return None
        expiry = self.certificate.not_valid_after_utc
        return expiry if EARLIEST_EXPIRY <= expiry <= LATEST_TIME else None


def session_of(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> Session:
    if ssl_object is None:
        return Session(None, None, None)
    cipher = ssl_object.cipher()
    der = ssl_object.getpeercert(binary_form=True)
    certificate = None
    if der:
        try:
            certificate = x509.load_der_x509_certificate(der)
        except ValueError:
            certificate = None
    return Session(ssl_object.version(), cipher[0] if cipher else None, certificate)


def host_matches(certificate: x509.Certificate, host: str) -> bool:
    """Whether the certificate is for `host` (a name, or an IP address)."""
    try:
        if ip_literal(host) is not None:
            verify_certificate_ip_address(certificate, host)
        else:
            verify_certificate_hostname(certificate, host)
    except (service_identity.VerificationError, service_identity.CertificateError):
        return False
    return True


def certificate_names(certificate: x509.Certificate, most: int = 3) -> str:
    """The DNS names and IP addresses a certificate is for, the first `most` of them."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "no subject alternative names"
    found = [str(n) for n in names.get_values_for_type(x509.DNSName)]
    found += [str(a) for a in names.get_values_for_type(x509.IPAddress)]
    shown = ", ".join(found[:most])
    return shown + (f" and {len(found) - most} more" if len(found) > most else "")
