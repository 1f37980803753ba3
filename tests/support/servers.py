"""Local HTTP servers that tests start: well-behaved and hostile ones."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SiteHandler(BaseHTTPRequestHandler):
    """Routes: /ok, /status/NNN, /slow/MS, /hang, /trickle, /big/BYTES, /loop, /redirect."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
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
        elif path == "/loop":
            self._send(302, b"", {"Location": "/loop"})
        elif path == "/redirect":
            self._send(301, b"", {"Location": "/ok"})
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
