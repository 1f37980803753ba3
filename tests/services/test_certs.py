"""Unit tests for the generated CA, broker and client certificates (no services needed)."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from wac.localservices.certs import ensure_certs
from wac.localservices.postgres import scram_verifier


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificates(path.read_bytes())[0]


def test_files_modes_and_chain(tmp_path: Path) -> None:
    files, changed = ensure_certs(tmp_path / "pki", tmp_path / "certs")
    assert changed
    ca = _cert(files.ca_cert)
    for leaf_file in (files.broker_keystore, files.client_cert):
        leaf = _cert(leaf_file)
        leaf.verify_directly_issued_by(ca)
        days = (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days
        assert 800 <= days <= 830
    assert sorted(p.name for p in files.client_dir.iterdir()) == [
        "ca.pem",
        "service.cert",
        "service.key",
    ]
    assert not (files.client_dir / "ca.key").exists()
    for secret in (files.ca_key, files.broker_keystore, files.client_key):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    for folder in (tmp_path / "pki", tmp_path / "certs"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    # the client key is unencrypted PKCS#8 and matches its certificate
    key_pem = files.client_key.read_bytes()
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key() == _cert(files.client_cert).public_key()


def test_broker_cert_sans_and_usages(tmp_path: Path) -> None:
    files, _ = ensure_certs(tmp_path / "pki", tmp_path / "certs")
    pem = files.broker_keystore.read_bytes()
    assert pem.index(b"PRIVATE KEY") < pem.index(b"CERTIFICATE")  # key first, then chain
    assert len(x509.load_pem_x509_certificates(pem)) == 2
    broker = _cert(files.broker_keystore)
    san = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    eku = broker.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    client_eku = (
        _cert(files.client_cert).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    assert ExtendedKeyUsageOID.CLIENT_AUTH in client_eku


def test_generated_once_and_only_missing_parts_regenerated(tmp_path: Path) -> None:
    files, _ = ensure_certs(tmp_path / "pki", tmp_path / "certs")
    before = {p: p.read_bytes() for p in (files.ca_cert, files.broker_keystore, files.client_cert)}
    _, changed = ensure_certs(tmp_path / "pki", tmp_path / "certs")
    assert not changed
    assert {p: p.read_bytes() for p in before} == before

    files.client_key.unlink()
    _, changed = ensure_certs(tmp_path / "pki", tmp_path / "certs")
    assert not changed  # broker untouched
    assert files.ca_cert.read_bytes() == before[files.ca_cert]
    assert files.broker_keystore.read_bytes() == before[files.broker_keystore]
    assert files.client_cert.read_bytes() != before[files.client_cert]
    assert files.client_key.exists()

    files.ca_key.unlink()  # a new CA invalidates every leaf
    _, changed = ensure_certs(tmp_path / "pki", tmp_path / "certs")
    assert changed
    ca = _cert(files.ca_cert)
    assert ca.public_bytes(serialization.Encoding.PEM) == files.client_ca.read_bytes()
    _cert(files.client_cert).verify_directly_issued_by(ca)
    _cert(files.broker_keystore).verify_directly_issued_by(ca)


def test_scram_verifier_format() -> None:
    verifier = scram_verifier("secret")
    assert verifier.startswith("SCRAM-SHA-256$4096:")
    assert "secret" not in verifier
    assert scram_verifier("secret") != verifier  # salted
