"""A private CA, a broker certificate and a client certificate, as PEM files.

Files (generated once, each regenerated only when missing, unreadable or expiring)::

    <pki>/ca.key        CA private key (0600); never copied to the client folder
    <pki>/ca.pem        CA certificate (the broker's PEM truststore)
    <pki>/broker.pem    broker key (unencrypted PKCS#8) + broker cert + CA cert (0600):
                        the broker's PEM keystore; SAN DNS:localhost, IP:127.0.0.1, IP:::1
    <certs>/ca.pem      copy of the CA certificate
    <certs>/service.cert client certificate (CN wac-client)
    <certs>/service.key client key, unencrypted PKCS#8 (0600)

The client names are the ones a managed Kafka hands out, so ``KAFKA_CERT_DIR`` works the same.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from wac.localservices.proc import make_dir, write_private

CA_DAYS = 3650
LEAF_DAYS = 825
RENEW_BEFORE = dt.timedelta(days=30)
KEY_BITS = 2048


@dataclass(frozen=True)
class CertFiles:
    ca_key: Path
    ca_cert: Path
    broker_keystore: Path
    client_dir: Path
    client_ca: Path
    client_cert: Path
    client_key: Path

    @classmethod
    def at(cls, pki: Path, certs: Path) -> CertFiles:
        return cls(
            ca_key=pki / "ca.key",
            ca_cert=pki / "ca.pem",
            broker_keystore=pki / "broker.pem",
            client_dir=certs,
            client_ca=certs / "ca.pem",
            client_cert=certs / "service.cert",
            client_key=certs / "service.key",
        )


# What a CA certificate may do: sign certificates and CRLs (and its own OCSP answers).
CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wac local services"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _make_ca() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _new_key()
    name = _name("wac local CA")
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_leaf(
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    common_name: str,
    server: bool,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _new_key()
    now = _now()
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def _load_ca(files: CertFiles) -> tuple[rsa.RSAPrivateKey, x509.Certificate] | None:
    try:
        key = serialization.load_pem_private_key(
            files.ca_key.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
        )
        cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(key, rsa.RSAPrivateKey) or not _fresh(cert):
        return None
    return key, cert


def _fresh(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - RENEW_BEFORE > _now()


def _leaf_ok(cert_pem: Path, key_pem: Path, ca_cert: x509.Certificate) -> bool:
    """The leaf exists, is fresh, was issued by this CA and matches its key."""
    try:
        certs = x509.load_pem_x509_certificates(cert_pem.read_bytes())
        key = serialization.load_pem_private_key(
            key_pem.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
        )
    except (OSError, ValueError):
        return False
    leaf = certs[0]
    if not _fresh(leaf) or leaf.issuer != ca_cert.subject:
        return False
    try:
        leaf.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return leaf.public_key() == key.public_key()


def ensure_certs(pki: Path, certs: Path) -> tuple[CertFiles, bool]:
    """Create whatever is missing. Returns the files and whether the broker's changed."""
    make_dir(pki, 0o700)
    make_dir(certs, 0o700)
    files = CertFiles.at(pki, certs)
    broker_changed = False

    loaded = _load_ca(files)
    if loaded is None:
        ca_key, ca_cert = _make_ca()
        write_private(files.ca_key, _key_pem(ca_key))
        write_private(files.ca_cert, _cert_pem(ca_cert), 0o644)
    else:
        ca_key, ca_cert = loaded
    ca_pem = _cert_pem(ca_cert)

    # client CA copy
    try:
        current = files.client_ca.read_bytes()
    except OSError:
        current = b""
    if current != ca_pem:
        write_private(files.client_ca, ca_pem, 0o644)

    # broker keystore: key first, then its chain
    if not _leaf_ok(files.broker_keystore, files.broker_keystore, ca_cert):
        key, cert = _make_leaf(ca_key, ca_cert, "localhost", server=True)
        write_private(files.broker_keystore, _key_pem(key) + _cert_pem(cert) + ca_pem)
        broker_changed = True

    if not _leaf_ok(files.client_cert, files.client_key, ca_cert):
        key, cert = _make_leaf(ca_key, ca_cert, "wac-client", server=False)
        write_private(files.client_key, _key_pem(key))
        write_private(files.client_cert, _cert_pem(cert), 0o644)

    return files, broker_changed
