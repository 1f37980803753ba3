"""Local servers that tests start: well-behaved and hostile HTTP(S) ones, and one not HTTP.

- `http_site()`: the routes of SiteHandler (slow, hanging, trickling, oversized,
  redirecting and redirect-looping ones).
- `tls_site(kind)`: the same routes over TLS with a certificate that is `good`
  (signed by the test CA of `local_ca()`, for 127.0.0.1 and localhost), `self_signed`,
  `expired` (signed by the test CA) or `wrong_host` (signed by the test CA, for
  another name).
- `not_http_server()`: accepts and answers with something that is not HTTP.
- `echo_server(banner)`: sends `banner` (if any), then echoes what it reads, for the
  tcp probe.
- `silent_server()`: accepts connections and never sends a byte.
- `full_backlog_server()`: never accepts, and its backlog is full: connecting hangs.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import json
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wac.localservices.certs import CA_KEY_USAGE

_last_authorization: list[str | None] = [None]
JSON_DOCUMENT = {
    "status": "UP",
    "version": 7,
    "ratio": 0.5,
    "healthy": True,
    "owner": None,
    "checks": [{"name": "db", "ok": True}, {"name": "cache", "ok": False}],
    "tags": ["a", "b"],
    "odd key": "spaced",
}


def last_authorization() -> str | None:
    """The Authorization header of the latest request a local site received."""
    return _last_authorization[0]


class SiteHandler(BaseHTTPRequestHandler):
    """Routes: /ok, /status/NNN, /slow/MS, /hang, /trickle, /big/BYTES, /loop, /redirect,
    /headers (echoes the request headers), /peer (records the client's port in `peers`),
    /forty-a (forty `a`s and a `!`), /json (a JSON document, `JSON_DOCUMENT`); POST and
    PUT to any path: the request's method, Content-Type and body echoed as JSON."""

    protocol_version = "HTTP/1.1"
    peers: list[int] = []  # noqa: RUF012 (shared on purpose: what /peer saw)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if "Content-Type" not in (headers or {}):
            self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        _last_authorization[0] = self.headers.get("Authorization")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        echo = {
            "method": self.command,
            "content_type": self.headers.get("Content-Type"),
            "body": body.decode("utf-8", "replace"),
        }
        self._send(200, json.dumps(echo).encode(), {"X-Echo": "yes"})

    do_PUT = do_POST

    def do_GET(self) -> None:
        _last_authorization[0] = self.headers.get("Authorization")
        path = self.path.split("?", 1)[0]
        parts = path.strip("/").split("/")
        if path in ("/", "/ok"):
            self._send(200, b"<html><body>Hello from wac test site</body></html>")
        elif parts[0] == "status" and len(parts) == 2:
            self._send(int(parts[1]), f"status {parts[1]}".encode())
        elif parts[0] == "slow" and len(parts) == 2:
            time.sleep(int(parts[1]) / 1000)
            self._send(200, b"slow but fine")
        elif path == "/hang":
            time.sleep(30)
        elif path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(1000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        elif parts[0] == "big" and len(parts) == 2:
            self._send(200, b"a" * int(parts[1]))
        elif path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()  # no length: the body ends when the connection does
            try:
                while True:
                    self.wfile.write(b"y" * 65536)
            except OSError:
                pass  # the client hung up, as it should
        elif path == "/huge-headers":
            self.send_response(200)
            for i in range(2000):
                self.send_header(f"X-Filler-{i}", "z" * 200)  # ~400 KB of headers
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        elif path == "/loop":
            self._send(302, b"", {"Location": "/loop"})
        elif path == "/redirect":
            self._send(301, b"", {"Location": "/ok"})
        elif path == "/forty-a":  # what `(a+)+$` backtracks on for hours in Python's re
            self._send(200, b"a" * 40 + b"!")
        elif path == "/headers":
            self._send(200, str(self.headers).encode())
        elif path == "/json":
            self._send(
                200,
                json.dumps(JSON_DOCUMENT).encode(),
                {"Content-Type": "application/json", "X-Version": "7"},
            )
        elif path == "/peer":
            SiteHandler.peers.append(self.client_address[1])
            self._send(200, b"peer noted")
        else:
            self._send(404, b"not found")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that time out and hang up are expected here


@contextmanager
def http_site() -> Iterator[str]:
    """A local HTTP site on a free port; yields its base URL (no trailing slash)."""
    server = QuietServer(("127.0.0.1", 0), SiteHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def not_http_server() -> Iterator[str]:
    """Accepts connections and answers like an SSH server would; yields its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\nProtocol mismatch.\n")
                    conn.shutdown(socket.SHUT_WR)
                    conn.recv(65536)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopping.set()
        listener.close()


@contextmanager
def echo_server(banner: bytes = b"") -> Iterator[int]:
    """Sends `banner`, then echoes every byte it reads until the client hangs up; yields
    its port (on 127.0.0.1)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def echo(conn: socket.socket) -> None:
        with conn, suppress(OSError):
            conn.settimeout(10)
            if banner:
                conn.sendall(banner)
            while data := conn.recv(65536):
                conn.sendall(data)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@contextmanager
def silent_server() -> Iterator[int]:
    """Accepts connections, reads nothing, answers nothing; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for conn in held:
            conn.close()


@contextmanager
def full_backlog_server() -> Iterator[int]:
    """A port whose listen queue is full (never accepted): SYNs go unanswered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@dataclass(frozen=True)
class LocalCA:
    cert_pem: bytes
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    bundle: Path  # the CA certificate as a PEM file, for WAC_CA_BUNDLE / ca_bundle


@functools.cache
def local_ca() -> LocalCA:
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wac test CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    bundle = Path(tempfile.mkdtemp(prefix="wac-test-ca-")) / "ca.pem"
    bundle.write_bytes(pem)
    return LocalCA(pem, key, cert, bundle)


TLS_KINDS = ("good", "self_signed", "expired", "wrong_host")


@functools.cache
def _leaf(kind: str) -> tuple[bytes, bytes, dt.datetime]:
    """(certificate PEM, key PEM, not-after) for one kind of server certificate."""
    ca = local_ca()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    key = ec.generate_private_key(ec.SECP256R1())
    host = "other.example" if kind == "wrong_host" else "localhost"
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    if kind == "expired":
        not_before, not_after = now - dt.timedelta(days=60), now - dt.timedelta(days=1)
    else:
        not_before, not_after = now - dt.timedelta(days=1), now + dt.timedelta(days=90)
    names: list[x509.GeneralName] = [x509.DNSName(host)]
    if kind != "wrong_host":
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if kind == "self_signed" else ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    )
    if kind != "self_signed":
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    signer = key if kind == "self_signed" else ca.key
    cert = builder.sign(signer, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, not_after


class _TLSServer(QuietServer):
    context: ssl.SSLContext

    def get_request(self) -> tuple[socket.socket, object]:
        conn, addr = super().get_request()
        # Handshake in the handler's thread, so a client that gives up blocks nobody.
        return self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request: object, client_address: object) -> None:
        assert isinstance(request, ssl.SSLSocket)
        request.settimeout(5)
        try:
            request.do_handshake()
        except (OSError, ssl.SSLError):
            return
        super().finish_request(request, client_address)


@contextmanager
def tls_site(
    kind: str, *, maximum_version: ssl.TLSVersion | None = None
) -> Iterator[tuple[str, dt.datetime]]:
    """An HTTPS site with the given kind of certificate: (base URL, certificate expiry).
    `maximum_version`: the newest TLS version it accepts (default: OpenSSL's)."""
    cert_pem, key_pem, not_after = _leaf(kind)
    folder = Path(tempfile.mkdtemp(prefix="wac-test-tls-"))
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    if maximum_version is not None:
        context.maximum_version = maximum_version
    server = _TLSServer(("127.0.0.1", 0), SiteHandler)
    server.context = context
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", not_after
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
