"""Debian's nginx, started by a test: HTTP/2 over TLS, and mutual TLS.

`nginx_sites()` yields a `Sites` with two HTTPS servers on free ports, both with the
`good` certificate of `local_ca()` (servers.py):
- `h2`: HTTP/2 (ALPN) and HTTP/1.1; `/ok` answers 200 with the protocol in `X-Protocol`;
- `mtls`: asks for a client certificate signed by the test CA and refuses (400) a
  request without one; `/ok` answers 200 with the client's subject.
`client_cert_files(folder)` writes a client certificate and key signed by the test CA.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pycurl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.servers import _leaf, free_port, local_ca

CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  ssl_certificate {dir}/cert.pem;
  ssl_certificate_key {dir}/key.pem;
  server {{
    listen 127.0.0.1:{h2} ssl http2;
    location = /ok {{
      add_header X-Protocol $server_protocol;
      default_type text/plain;
      return 200 "ok over $server_protocol";
    }}
  }}
  server {{
    listen 127.0.0.1:{mtls} ssl;
    ssl_client_certificate {ca};
    ssl_verify_client on;
    location = /ok {{ default_type text/plain; return 200 "hello $ssl_client_s_dn"; }}
  }}
}}
"""


@dataclass(frozen=True)
class Sites:
    h2: str  # base URL, no trailing slash
    mtls: str


@contextmanager
def nginx_sites() -> Iterator[Sites]:
    if shutil.which("nginx") is None:
        raise RuntimeError("nginx is not installed: apt-get install nginx-light")
    folder = Path(tempfile.mkdtemp(prefix="wac-test-nginx-"))
    cert, key, _ = _leaf("good")
    (folder / "cert.pem").write_bytes(cert)
    (folder / "key.pem").write_bytes(key)
    ports = {"h2": free_port(), "mtls": free_port()}
    conf = folder / "nginx.conf"
    conf.write_text(CONF.format(dir=folder, ca=local_ca().bundle, **ports))
    process = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        sites = Sites(*(f"https://127.0.0.1:{ports[k]}" for k in ("h2", "mtls")))
        _wait_until_up(process, sites.h2, folder)
        yield sites
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_up(process: subprocess.Popen[bytes], base: str, folder: Path) -> None:
    def alive() -> None:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(
                f"nginx did not start: {error or (folder / 'error.log').read_text()}"
            )

    wait_until_serving(f"{base}/ok", alive)


def wait_until_serving(url: str, alive: Callable[[], None] = lambda: None) -> None:
    """Until a GET of `url` answers (certificates not checked), for at most 10 s;
    `alive()` raises when the server is known to have died meanwhile."""
    deadline = time.monotonic() + 10
    while True:
        alive()
        curl = pycurl.Curl()
        curl.setopt(pycurl.URL, url)
        curl.setopt(pycurl.SSL_VERIFYPEER, 0)
        curl.setopt(pycurl.SSL_VERIFYHOST, 0)
        curl.setopt(pycurl.WRITEFUNCTION, lambda _: None)
        try:
            curl.perform()
            return
        except pycurl.error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        finally:
            curl.close()


def client_cert_files(folder: Path, *, signed_by_ca: bool = True) -> tuple[Path, Path]:
    """(certificate, key) PEM files of a client certificate for `wac test client`,
    signed by the test CA (or by itself)."""
    ca = local_ca()
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wac test client")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject if signed_by_ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.key if signed_by_ca else key, hashes.SHA256())
    )
    cert_path, key_path = folder / "client.pem", folder / "client.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
