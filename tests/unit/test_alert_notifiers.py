"""Notifiers against real local receivers: an HTTP webhook receiver, an SMTP server.

The receivers here are also used by the end-to-end alert tests.
"""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import hmac
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.servers import QuietServer, free_port
from wac.alerts.messages import IncidentInfo, Notification, key_id, render_text
from wac.alerts.notifiers import DeliveryError, build
from wac.alerts.notifiers.email import EmailNotifier
from wac.alerts.notifiers.webhook import SIGNATURE_HEADER
from wac.errors import ConfigError

SECRET = "hmac-secret-for-tests"
PASSWORD = "smtp-password-for-tests"


# --- receivers ---------------------------------------------------------------------------
@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    accepted: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def signature_ok(self, secret: str = SECRET) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get(SIGNATURE_HEADER, ""), expected)


@dataclass
class WebhookReceiver:
    """Records every POST; answers `status` (200 unless a test makes it fail)."""

    url: str = ""
    status: int = 200
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self, path: str | None = None) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if d.accepted and path in (None, d.path)]

    def all(self, path: str | None = None) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if path in (None, d.path)]


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: Message
    starttls: bool
    login: str | None

    @property
    def kind(self) -> str:
        return str(self.message["X-Wac-Kind"])


def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.status
            with receiver.lock:
                receiver.deliveries.append(
                    Delivery(self.path, dict(self.headers.items()), body, 200 <= status < 300)
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def self_signed(directory: Path, valid: dt.timedelta = dt.timedelta(days=7)) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files; the cert is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wac test smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + valid)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.pem", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class SmtpReceiver:
    host: str
    port: int
    ca_file: Path
    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)


def smtp_receiver(directory: Path) -> Iterator[SmtpReceiver]:
    """aiosmtpd requiring STARTTLS and AUTH (user `alerts`, password PASSWORD)."""
    cert, key = self_signed(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    receiver = SmtpReceiver("127.0.0.1", free_port(), cert)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            message = email.message_from_bytes(envelope.content)
            login = session.auth_data.decode() if session.auth_data else None
            with receiver.lock:
                receiver.mails.append(
                    Mail(
                        envelope.mail_from,
                        list(envelope.rcpt_tos),
                        message,
                        session.ssl is not None,
                        login,
                    )
                )
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        ok = (
            isinstance(data, LoginPassword)
            and data.login == b"alerts"
            and data.password == PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)

    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=receiver.port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    yield from webhook_receiver()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpReceiver]:
    yield from smtp_receiver(tmp_path)


def notification(kind: str = "down") -> Notification:
    started = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
    incident = IncidentInfo(
        id=7, started=started, cause="status: HTTP status 500", locations=["eu", "us"]
    )
    at = started + dt.timedelta(seconds=30)
    return Notification(
        id=key_id(f"incident:7:{kind}:0"),
        kind=kind,  # type: ignore[arg-type]
        target="shop",
        url="https://shop.example/",
        at=at,
        text=render_text(kind, "shop", at, incident),  # type: ignore[arg-type]
        incident=incident,
    )


# --- webhook ---------------------------------------------------------------------------------
def test_webhook_posts_signed_json_with_an_idempotency_key(webhook: WebhookReceiver) -> None:
    notifier = build(
        "ops",
        {
            "type": "webhook",
            "url": f"{webhook.url}/hook",
            "secret_env": "S",
            "headers": {"X-A": "b"},
        },
        {"S": SECRET},
        "t",
    )
    sent = notification()
    notifier.send(sent)
    notifier.send(sent)  # a retry: the same body, the same key
    first, second = webhook.accepted("/hook")
    assert first.body == second.body
    assert first.signature_ok() and not first.signature_ok("another secret")
    assert first.headers["Idempotency-Key"] == sent.id == first.json["id"]
    assert first.headers["X-Wac-Kind"] == "down" and first.headers["X-A"] == "b"
    assert first.headers["Content-Type"] == "application/json"
    body = first.json
    assert body["v"] == 1 and body["kind"] == "down" and body["target"] == "shop"
    assert body["incident"]["locations"] == ["eu", "us"] and body["incident"]["ended"] is None
    assert body["text"].startswith("DOWN shop: status: HTTP status 500")


def test_webhook_failure_is_a_delivery_error_without_secrets(webhook: WebhookReceiver) -> None:
    webhook.status = 503
    notifier = build(
        "ops",
        {"type": "webhook", "url_env": "U", "secret_env": "S", "timeout": "2s"},
        {"S": SECRET, "U": f"{webhook.url}/hook/token-in-path"},
        "t",
    )
    with pytest.raises(DeliveryError) as caught:
        notifier.send(notification())
    assert str(caught.value) == f"HTTP 503 from {webhook.url.removeprefix('http://')}"
    assert "token" not in notifier.describe() and SECRET not in notifier.describe()
    closed = build("x", {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/t0k"}, {}, "t")
    with pytest.raises(DeliveryError) as refused:
        closed.send(notification())
    assert "cannot reach 127.0.0.1" in str(refused.value) and "t0k" not in str(refused.value)


def test_webhook_timeout_is_a_delivery_error() -> None:
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        notifier = build(
            "x", {"type": "webhook", "url": f"http://127.0.0.1:{port}/", "timeout": "0.3s"}, {}, "t"
        )
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            notifier.send(notification())
        assert time.monotonic() - started < 5
    assert "127.0.0.1" in str(caught.value)


def test_slack_posts_text(webhook: WebhookReceiver) -> None:
    notifier = build("chat", {"type": "slack", "url_env": "SLACK"}, {"SLACK": webhook.url}, "t")
    notifier.send(notification("up"))
    (delivery,) = webhook.accepted()
    text = delivery.json["text"]
    assert text.startswith(":large_green_circle: UP shop: recovered after")
    assert "<https://shop.example/>" in text
    assert set(delivery.json) == {"text"}


# --- email -----------------------------------------------------------------------------------
def email_spec(smtp: SmtpReceiver, **extra: Any) -> dict[str, Any]:
    return {
        "type": "email",
        "host": smtp.host,
        "port": smtp.port,
        "username": "alerts",
        "password_env": "PW",
        "from": "wac@example.com",
        "to": ["ops@example.com", "dev@example.com"],
        "ca_file": str(smtp.ca_file),
        "timeout": "5s",
        **extra,
    }


def test_email_over_starttls_with_login(smtp: SmtpReceiver) -> None:
    notifier = build("mail", email_spec(smtp), {"PW": PASSWORD}, "t")
    assert isinstance(notifier, EmailNotifier)
    sent = notification()
    notifier.send(sent)
    (mail,) = smtp.received()
    assert mail.starttls and mail.login == "alerts"
    assert mail.sender == "wac@example.com"
    assert mail.recipients == ["ops@example.com", "dev@example.com"]
    assert mail.message["Subject"].startswith("[wac] DOWN shop: status: HTTP status 500")
    assert mail.message["Message-ID"] == f"<{sent.id}@wac.alert>"
    assert mail.kind == "down"
    body = mail.message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "locations: eu, us" in body and "incident: 7" in body


def test_email_wrong_password_is_refused_without_showing_it(smtp: SmtpReceiver) -> None:
    notifier = build("mail", email_spec(smtp), {"PW": "not-the-password"}, "t")
    with pytest.raises(DeliveryError) as caught:
        notifier.send(notification())
    assert "login refused" in str(caught.value)
    assert "not-the-password" not in str(caught.value)
    assert smtp.received() == []


def test_email_refuses_an_untrusted_server_certificate(smtp: SmtpReceiver) -> None:
    spec = email_spec(smtp)
    del spec["ca_file"]
    notifier = build("mail", spec, {"PW": PASSWORD}, "t")
    with pytest.raises(DeliveryError) as caught:
        notifier.send(notification())
    assert "TLS" in str(caught.value) or "CERTIFICATE" in str(caught.value).upper()
    assert smtp.received() == []


def test_email_config_defaults() -> None:
    notifier = build(
        "m", {"type": "email", "host": "h", "from": "a@b", "to": "c@d", "security": "tls"}, {}, "t"
    )
    assert isinstance(notifier, EmailNotifier) and notifier.port == 465
    with pytest.raises(ConfigError, match="give both username and password_env"):
        build(
            "m",
            {"type": "email", "host": "h", "from": "a@b", "to": "c@d", "username": "u"},
            {},
            "t",
        )


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (400, True),
        (401, True),
        (404, True),
        (408, False),
        (429, False),
        (500, False),
        (503, False),
    ],
)
def test_webhook_4xx_is_given_up_and_the_rest_retried(
    webhook: WebhookReceiver, status: int, permanent: bool
) -> None:
    webhook.status = status
    notifier = build("ops", {"type": "webhook", "url": f"{webhook.url}/hook"}, {}, "t")
    with pytest.raises(DeliveryError) as caught:
        notifier.send(notification())
    assert caught.value.permanent is permanent
    assert str(caught.value) == f"HTTP {status} from {webhook.url.removeprefix('http://')}"
