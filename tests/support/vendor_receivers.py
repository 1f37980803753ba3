"""Local stand-ins for eight notification vendors, on one HTTP server.

Each vendor lives under its own path prefix (`/pagerduty`, `/opsgenie`, ...), checks
every request against the documented shape (`tests/support/vendor_shapes.py`) and the
credential, answers the way the vendor does (202 with PagerDuty's `dedup_key`, 204 or
the message for Discord, `{"ok": true}` for Telegram, a 4xx with the vendor's error
body otherwise) and records what it got. It also keeps the vendor-side state that
matters for matching a recovery to its trigger: an open PagerDuty alert per
`dedup_key`, an open Opsgenie alert per alias, an open incident per chat; a resolve,
close or UP without its trigger is recorded as a mismatch.

`fail_next[vendor]` makes the next requests fail with the given statuses (429 with a
`Retry-After`), to test what a notifier does with refusals.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.servers import QuietServer
from tests.support.vendor_shapes import CHECKS, Credentials, Request, Verdict

PREFIXES = {
    "pagerduty": "/pagerduty",
    "opsgenie": "/opsgenie",
    "teams": "/teams",
    "discord": "/discord",
    "telegram": "/telegram",
    "ntfy": "/ntfy",
    "pushover": "/pushover",
    "google_chat": "/googlechat",
}


@dataclass
class Received:
    vendor: str
    request: Request
    verdict: Verdict
    status: int
    injected: bool = False
    at: float = field(default_factory=time.monotonic)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    @property
    def summary(self) -> dict[str, Any]:
        return self.verdict.summary


@dataclass
class VendorReceivers:
    creds: Credentials = field(default_factory=Credentials)
    base_url: str = ""
    log: list[Received] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    fail_next: dict[str, list[int]] = field(default_factory=dict)
    retry_after_s: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)
    # vendor -> key (dedup_key, alias, incident id) -> the trigger's summary, while open
    open: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)

    # --- what the tests read ----------------------------------------------------------
    def received(self, vendor: str, *, accepted_only: bool = True) -> list[Received]:
        with self.lock:
            return [r for r in self.log if r.vendor == vendor and (r.accepted or not accepted_only)]

    def problems(self) -> list[str]:
        """Shape problems of every request that was not an injected failure, and mismatches."""
        with self.lock:
            found = [
                f"{r.vendor}: {problem}"
                for r in self.log
                if not r.injected
                for problem in r.verdict.problems
            ]
            return found + list(self.mismatches)

    def counts(self, vendor: str) -> Counter[str]:
        return Counter(
            f"{r.summary.get('action')}:{r.summary.get('kind') or '-'}"
            for r in self.received(vendor)
        )

    def report(self, vendor: str) -> list[str]:
        """What a vendor got, a line per request, for `pytest -s` output."""
        lines = []
        for r in self.received(vendor, accepted_only=False):
            if r.injected:
                lines.append(f"HTTP {r.status} (a failure the test asked for)")
                continue
            fields = {k: v for k, v in r.summary.items() if k not in ("summary", "message")}
            shown = " ".join(f"{k}={v!r}" for k, v in fields.items())
            lines.append(f"HTTP {r.status} {shown}")
        return lines

    # --- how a notifier is pointed at them ------------------------------------------------
    def url(self, vendor: str) -> str:
        return self.base_url + PREFIXES[vendor]

    def webhook_urls(self) -> dict[str, str]:
        c = self.creds
        return {
            "teams": f"{self.url('teams')}/workflows/{c.teams_workflow_id}/triggers/manual/"
            f"paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0"
            f"&sig={c.teams_signature}",
            "discord": f"{self.url('discord')}/api/webhooks/{c.discord_webhook_id}/"
            f"{c.discord_webhook_token}",
            "google_chat": f"{self.url('google_chat')}/v1/spaces/{c.google_chat_space}/"
            f"messages?key={c.google_chat_key}&token={c.google_chat_token}",
        }

    def env(self) -> dict[str, str]:
        """The environment variables the notifier specs below name."""
        c, urls = self.creds, self.webhook_urls()
        return {
            "PD_ROUTING_KEY": c.pagerduty_routing_key,
            "OPSGENIE_API_KEY": c.opsgenie_api_key,
            "TEAMS_WORKFLOW_URL": urls["teams"],
            "DISCORD_WEBHOOK_URL": urls["discord"],
            "TELEGRAM_BOT_TOKEN": c.telegram_bot_token,
            "NTFY_TOKEN": c.ntfy_token,
            "NTFY_TOPIC": c.ntfy_topic,
            "PUSHOVER_TOKEN": c.pushover_token,
            "PUSHOVER_USER": c.pushover_user,
            "GOOGLE_CHAT_WEBHOOK_URL": urls["google_chat"],
        }

    def specs(self, timeout: str = "5s") -> dict[str, dict[str, Any]]:
        """One notifier per vendor, named after it, pointed at these receivers."""
        return {
            "pagerduty": {"type": "pagerduty", "routing_key_env": "PD_ROUTING_KEY",
                          "api_url": self.url("pagerduty"), "timeout": timeout},
            "opsgenie": {"type": "opsgenie", "api_key_env": "OPSGENIE_API_KEY",
                         "api_url": self.url("opsgenie"), "tags": ["web"],
                         "responders": [{"type": "team", "name": "ops"}], "timeout": timeout},
            "teams": {"type": "teams", "url_env": "TEAMS_WORKFLOW_URL", "timeout": timeout},
            "discord": {"type": "discord", "url_env": "DISCORD_WEBHOOK_URL",
                        "username": "wac alerts", "timeout": timeout},
            "telegram": {"type": "telegram", "bot_token_env": "TELEGRAM_BOT_TOKEN",
                         "chat_id": self.creds.telegram_chat_id,
                         "api_url": self.url("telegram"), "timeout": timeout},
            "ntfy": {"type": "ntfy", "api_url": self.url("ntfy"), "topic_env": "NTFY_TOPIC",
                     "token_env": "NTFY_TOKEN", "priority": "urgent", "timeout": timeout},
            "pushover": {"type": "pushover", "token_env": "PUSHOVER_TOKEN",
                         "user_key_env": "PUSHOVER_USER", "api_url": self.url("pushover"),
                         "timeout": timeout},
            "google_chat": {"type": "google_chat", "url_env": "GOOGLE_CHAT_WEBHOOK_URL",
                            "timeout": timeout},
        }  # fmt: skip

    # --- the server side --------------------------------------------------------------
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw_path)
        vendor = next((v for v, p in PREFIXES.items() if parts.path.startswith(p + "/")), None)
        if vendor is None:
            return 404, {}, b"not found"
        request = Request(
            method,
            parts.path[len(PREFIXES[vendor]) :],
            parse_qs(parts.query),
            {k.lower(): v for k, v in headers.items()},
            body,
        )
        with self.lock:
            injected = self.fail_next.get(vendor)
            if injected:
                status = injected.pop(0)
                self.log.append(Received(vendor, request, Verdict(), status, injected=True))
                return self._error(vendor, status, ["injected failure"])
        try:
            verdict = CHECKS[vendor](request, self.creds)
        except Exception as exc:  # a check that crashes is a failed check, not a silent one
            verdict = Verdict(problems=[f"check crashed: {type(exc).__name__}: {exc}"])
        if verdict.unauthorised:
            status = 403 if vendor == "google_chat" else (400 if vendor == "pushover" else 401)
            answer = self._error(vendor, status, ["credential refused"])
        elif verdict.problems:
            answer = self._error(vendor, 422 if vendor == "opsgenie" else 400, verdict.problems)
        else:
            answer = self._success(vendor, verdict)
        with self.lock:
            self.log.append(Received(vendor, request, verdict, answer[0]))
            if 200 <= answer[0] < 300:
                self._match(vendor, verdict.summary)
        return answer

    def _match(self, vendor: str, summary: dict[str, Any]) -> None:
        """Vendor-side state: a recovery must find its trigger open."""
        opened = self.open.setdefault(vendor, {})
        action, key = summary.get("action"), summary.get("key")
        if vendor == "pagerduty":
            if action == "trigger":
                opened.setdefault(key, summary)
            elif action == "resolve" and opened.pop(key, None) is None:
                self.mismatches.append(f"pagerduty: resolve of {key!r} with no open trigger")
            return
        if vendor == "opsgenie":
            if action == "create":
                opened.setdefault(key, summary)
            elif action == "close":
                if summary.get("identifier_type") != "alias":
                    self.mismatches.append("opsgenie: close not by alias")
                if opened.pop(key, None) is None:
                    self.mismatches.append(f"opsgenie: close of {key!r} with no open alert")
            return
        kind, incident = summary.get("kind"), summary.get("incident")
        if kind == "CERTIFICATE":
            return
        if incident is None:
            self.mismatches.append(f"{vendor}: a {kind} message names no incident")
        elif kind == "DOWN":
            opened[incident] = summary
        elif incident not in opened:
            self.mismatches.append(f"{vendor}: {kind} of incident {incident} before its DOWN")
        else:
            trigger = opened[incident]
            if vendor == "google_chat" and summary.get("thread_key") != trigger.get("thread_key"):
                self.mismatches.append(f"google_chat: {kind} of {incident} in another thread")
            if kind == "UP":
                del opened[incident]

    def _success(self, vendor: str, verdict: Verdict) -> tuple[int, dict[str, str], bytes]:
        s = verdict.summary
        body: Any
        if vendor == "pagerduty":
            body = {"status": "success", "message": "Event processed", "dedup_key": s["key"]}
        elif vendor == "opsgenie":
            body = {"result": "Request will be processed", "took": 0.01,
                    "requestId": str(uuid.uuid4())}  # fmt: skip
        elif vendor == "teams":
            return 202, {}, b""
        elif vendor == "discord":
            if verdict.status == 204:
                return 204, {}, b""
            body = {"id": str(time.time_ns()), "type": 0, "content": "", "webhook_id": "1"}
        elif vendor == "telegram":
            body = {"ok": True, "result": {"message_id": len(self.log) + 1,
                                           "date": int(time.time()),
                                           "chat": {"id": s["chat_id"], "type": "supergroup"},
                                           "text": s["title"]}}  # fmt: skip
        elif vendor == "ntfy":
            body = {"id": uuid.uuid4().hex[:12], "time": int(time.time()), "event": "message",
                    "topic": s["topic"], "title": s["title"]}  # fmt: skip
        elif vendor == "pushover":
            body = {"status": 1, "request": str(uuid.uuid4())}
        else:
            space = self.creds.google_chat_space
            body = {"name": f"spaces/{space}/messages/{uuid.uuid4().hex}",
                    "thread": {"name": f"spaces/{space}/threads/{s['thread_key']}",
                               "threadKey": s["thread_key"]}}  # fmt: skip
        return verdict.status, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def _error(
        self, vendor: str, status: int, problems: list[str]
    ) -> tuple[int, dict[str, str], bytes]:
        """The vendor's own error shape, so notifiers are tested on what they will read."""
        headers = {"Content-Type": "application/json"}
        wait = self.retry_after_s
        if status == 429:
            headers["Retry-After"] = str(wait)
        text = "; ".join(problems)
        body: Any
        if vendor == "pagerduty":
            body = {"status": "invalid event", "message": "Event object is invalid",
                    "errors": problems}  # fmt: skip
        elif vendor == "opsgenie":
            body = {"message": text, "took": 0.0, "requestId": str(uuid.uuid4())}
        elif vendor == "teams":
            body = {"error": {"code": "InvalidRequestContent", "message": text}}
        elif vendor == "discord":
            body = {"message": text, "code": 50035}
            if status == 429:
                body = {"message": "You are being rate limited.", "retry_after": wait,
                        "global": False}  # fmt: skip
        elif vendor == "telegram":
            body = {"ok": False, "error_code": status, "description": f"Bad Request: {text}"}
            if status == 429:
                body["description"] = f"Too Many Requests: retry after {wait}"
                body["parameters"] = {"retry_after": wait}
        elif vendor == "ntfy":
            body = {"code": status * 100 + 1, "http": status, "error": text}
        elif vendor == "pushover":
            body = {"errors": problems, "status": 0, "request": str(uuid.uuid4())}
        else:
            body = {"error": {"code": status, "message": text, "status": "INVALID_ARGUMENT"}}
        return status, headers, json.dumps(body).encode()


@contextmanager
def vendor_receivers(creds: Credentials | None = None) -> Iterator[VendorReceivers]:
    receivers = VendorReceivers(creds or Credentials())

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, headers, answer = receivers.handle(
                self.command, self.path, dict(self.headers.items()), body
            )
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_PUT = do_POST

    server = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    receivers.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receivers
    finally:
        server.shutdown()
        server.server_close()
