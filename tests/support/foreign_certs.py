"""Certificates from a CA the local broker does not know, for the bad-certificate tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def write_foreign_client_cert(directory: Path) -> None:
    """service.cert/service.key signed by a stranger's CA (and that CA as ca.pem)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (directory / "service.cert").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "service.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


BROKEN_CLIENT_FILES = {
    "key of another certificate": "service.key does not match",
    "certificate that does not parse": "service.cert is not a PEM certificate",
    "CA that does not parse": "ca.pem is not a PEM certificate",
    "key that does not parse": "service.key is not a PEM private key",
    "encrypted key": "service.key is encrypted",
    "key where the certificate belongs": "service.cert is not a PEM certificate",
    "CA cut short after its first certificate": "ca.pem is cut short",
}


def write_broken_client_files(directory: Path, good: Path, case: str) -> None:
    """The good ca.pem, service.cert and service.key of `good`, one of them spoilt by `case`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("ca.pem", "service.cert", "service.key"):
        (directory / name).write_bytes((good / name).read_bytes())
    garbage = b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
    if case == "key of another certificate":
        stranger = ec.generate_private_key(ec.SECP256R1())
        (directory / "service.key").write_bytes(
            stranger.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    elif case == "certificate that does not parse":
        (directory / "service.cert").write_bytes(garbage)
    elif case == "CA that does not parse":
        (directory / "ca.pem").write_bytes(garbage)
    elif case == "key that does not parse":
        (directory / "service.key").write_bytes(
            b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
        )
    elif case == "encrypted key":
        key = serialization.load_pem_private_key((good / "service.key").read_bytes(), None)
        (directory / "service.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"passphrase"),
            )
        )
    elif case == "CA cut short after its first certificate":
        with (directory / "ca.pem").open("ab") as ca:
            ca.write(b"-----BEGIN CERTIFICATE-----\nMIIB\n")
    elif case == "key where the certificate belongs":
        (directory / "service.cert").write_bytes((good / "service.key").read_bytes())
    else:
        raise ValueError(case)
