"""Email over SMTP: STARTTLS by default (or implicit TLS, or none for a local relay).

The password comes from the environment variable named by `password_env`. The mail's
Message-ID is derived from the notification id, the same on every retry, so a
receiving system can drop a repeat.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from wac.alerts.messages import Notification, subject
from wac.alerts.notifiers import DeliveryError, Notifier, from_env, reject_unknown, string
from wac.errors import ConfigError
from wac.settings.durations import parse_duration
from wac.yaml_config import shown

_KEYS = {
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "from",
    "to",
    "timeout",
    "ca_file",
}
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(eq=False, repr=False, kw_only=True)
class EmailNotifier:
    name: str
    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    sender: str
    recipients: list[str]
    timeout: float
    context: ssl.SSLContext  # verifies the server (against `ca_file`)

    def describe(self) -> str:
        return f"email via {self.host}:{self.port} ({self.security}) to {len(self.recipients)}"

    def message(self, notification: Notification) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = subject(notification)
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = f"<{notification.id}@wac.alert>"
        mail["X-Wac-Delivery"] = notification.id
        mail["X-Wac-Kind"] = notification.kind
        lines = [notification.text, "", f"target: {notification.target}"]
        if notification.url:
            lines.append(f"url: {notification.url}")
        if notification.incident is not None:
            incident = notification.incident
            lines += [
                f"incident: {incident.id}",
                f"started: {incident.started.isoformat()}",
                f"ended: {incident.ended.isoformat() if incident.ended else '-'}",
                f"cause: {incident.cause}",
                f"locations: {', '.join(incident.locations)}",
            ]
        if notification.certificate is not None:
            lines.append(f"certificate expires: {notification.certificate.expires_at.isoformat()}")
        lines += ["", f"-- wac alert, notification {notification.id}"]
        mail.set_content("\n".join(lines) + "\n")
        return mail

    def send(self, notification: Notification) -> None:
        mail = self.message(notification)
        where = f"SMTP {self.host}:{self.port}"
        try:
            smtp: smtplib.SMTP
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self.context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=self.context)
                if self.username is not None and self.password is not None:
                    smtp.login(self.username, self.password)
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"{where}: login refused ({exc.smtp_code})") from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(f"{where}: the server does not offer STARTTLS") from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"{where}: refused with {exc.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError(f"{where}: every recipient was refused") from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"{where}: TLS: {exc.reason or 'handshake failed'}") from None
        except TimeoutError:
            raise DeliveryError(f"{where}: no answer within {self.timeout:g} s") from None
        except (smtplib.SMTPException, OSError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else ""
            raise DeliveryError(f"{where}: {type(exc).__name__} {detail}".rstrip()) from None


def from_config(name: str, spec: Mapping[str, Any], env: Mapping[str, str], where: str) -> Notifier:
    if "password" in spec:
        raise ConfigError(
            f"{where}: put the password in the environment and name it in password_env"
        )
    reject_unknown(spec, _KEYS, where)
    security = spec.get("security", "starttls")
    if not isinstance(security, str) or security not in _DEFAULT_PORTS:
        raise ConfigError(f"{where}: security must be starttls (default), tls or none")
    port = spec.get("port", _DEFAULT_PORTS[security])
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ConfigError(f"{where}: port must be a TCP port number")
    username = spec.get("username")
    if username is not None and (not isinstance(username, str) or not username):
        raise ConfigError(f"{where}: username must be a non-empty string")
    password = from_env(spec, "password_env", env, where)
    if (username is None) != (password is None):
        raise ConfigError(f"{where}: give both username and password_env, or neither")
    if password is not None and security == "none":
        raise ConfigError(f"{where}: refusing to send a password without TLS (security: none)")
    recipients = spec.get("to")
    if isinstance(recipients, str):
        recipients = [recipients]
    if (
        not isinstance(recipients, list)
        or not recipients
        or not all(isinstance(r, str) and "@" in r for r in recipients)
    ):
        raise ConfigError(f"{where}: to must be an address or a list of addresses")
    ca_file = spec.get("ca_file")
    if ca_file is not None and not isinstance(ca_file, str):
        raise ConfigError(f"{where}: ca_file must be a path to PEM CA certificates")
    try:
        return EmailNotifier(
            name=name,
            host=string(spec, "host", where),
            port=port,
            security=security,
            username=username,
            password=password,
            sender=string(spec, "from", where),
            recipients=recipients,
            timeout=parse_duration(spec.get("timeout", 10), where, "timeout"),
            context=ssl.create_default_context(cafile=ca_file),
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{where}: ca_file {shown(ca_file)} cannot be used: {exc}") from None
