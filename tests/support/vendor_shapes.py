"""The request shapes eight notification vendors document, as checks a receiver applies.

Each `check_<vendor>(request, creds)` returns a `Verdict`: the problems found (empty when
the request is one the vendor would accept) and a summary of what it says (`action`,
`kind`, `incident`, `key`, ...) for the tests to match recoveries to triggers. The
checks are pure functions, so the property tests apply them to notifier output without
any HTTP, and the local receivers (`tests/support/vendor_receivers.py`) apply them to
what arrives over HTTP.

Sources (the vendors' public API documentation):
- PagerDuty Events API v2, "Send an Alert Event" / "Send a Change Event" (`/v2/enqueue`).
- Opsgenie Alert API: "Create Alert", "Close Alert" (`identifierType`).
- Microsoft Teams: "Create incoming webhooks with Workflows" (message with an Adaptive
  Card attachment) and the Adaptive Cards schema (versions, elements, styles).
- Discord: "Execute Webhook" and the embed limits of "Channel: Embed Limits".
- Telegram Bot API: `sendMessage` and "Formatting options: HTML style".
- ntfy: "Publish as JSON".
- Pushover Message API: parameters and limits.
- Google Chat API: `spaces.messages.create` with `cardsV2`, `thread.threadKey` and
  `messageReplyOption`.
"""

from __future__ import annotations

import html
import re
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs

# --- credentials the receivers expect (fresh per test run) ------------------------------
_ALNUM = string.ascii_letters + string.digits


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class Credentials:
    pagerduty_routing_key: str = field(default_factory=lambda: _random("0123456789abcdef", 32))
    opsgenie_api_key: str = field(default_factory=lambda: str(_uuid()))
    telegram_bot_token: str = field(
        default_factory=lambda: f"{_random('0123456789', 10)}:AA{_random(_ALNUM + '_-', 33)}"
    )
    telegram_chat_id: int = -1001234567890
    ntfy_token: str = field(default_factory=lambda: "tk_" + _random(_ALNUM.lower(), 29))
    ntfy_topic: str = field(default_factory=lambda: "wac-" + _random(_ALNUM, 20))
    pushover_token: str = field(default_factory=lambda: "a" + _random(_ALNUM, 29))
    pushover_user: str = field(default_factory=lambda: "u" + _random(_ALNUM, 29))
    discord_webhook_id: str = field(default_factory=lambda: _random("0123456789", 19))
    discord_webhook_token: str = field(default_factory=lambda: _random(_ALNUM + "_-", 68))
    teams_workflow_id: str = field(default_factory=lambda: _random("0123456789abcdef", 32))
    teams_signature: str = field(default_factory=lambda: _random(_ALNUM + "_-", 43))
    google_chat_space: str = field(default_factory=lambda: "AAAA" + _random(_ALNUM, 7))
    google_chat_key: str = field(default_factory=lambda: "AIzaSy" + _random(_ALNUM + "-_", 33))
    google_chat_token: str = field(default_factory=lambda: _random(_ALNUM + "-_", 43) + "=")

    def all(self) -> list[str]:
        """Every secret, for "appears nowhere" checks."""
        return [
            self.pagerduty_routing_key,
            self.opsgenie_api_key,
            self.telegram_bot_token,
            self.ntfy_token,
            self.ntfy_topic,
            self.pushover_token,
            self.pushover_user,
            self.discord_webhook_token,
            self.teams_signature,
            self.google_chat_key,
            self.google_chat_token,
        ]


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


# --- one request, and what a check says about it -----------------------------------------
@dataclass(frozen=True)
class Request:
    method: str
    path: str  # below the vendor's prefix, without the query
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    # What the vendor answers when there is no problem, and when the credential is wrong.
    status: int = 200
    unauthorised: bool = False

    def need(self, condition: object, problem: str) -> bool:
        if not condition:
            self.problems.append(problem)
        return bool(condition)


class Shape:
    """Field checks on a decoded JSON object, writing problems into a verdict."""

    def __init__(self, verdict: Verdict) -> None:
        self.v = verdict

    def object(self, value: object, path: str) -> dict[str, Any]:
        self.v.need(isinstance(value, dict), f"{path} must be an object")
        return value if isinstance(value, dict) else {}

    def only(self, obj: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in obj:
            self.v.need(key in allowed, f"{path}: unknown field {key!r}")

    def text(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        most: int | None = None,
        empty: bool = False,
    ) -> str | None:
        if key not in obj:
            self.v.need(not required, f"{path}.{key} is required")
            return None
        value = obj[key]
        if not self.v.need(isinstance(value, str), f"{path}.{key} must be a string"):
            return None
        self.v.need(empty or value.strip(), f"{path}.{key} must not be empty")
        if most is not None:
            self.v.need(len(value) <= most, f"{path}.{key} is over {most} characters")
        return str(value)

    def one_of(
        self, obj: Mapping[str, Any], key: str, options: set[Any], path: str, required: bool
    ) -> Any:
        if key not in obj:
            self.v.need(not required, f"{path}.{key} is required")
            return None
        value = obj[key]
        self.v.need(
            value in options and not isinstance(value, bool),
            f"{path}.{key} must be one of {sorted(map(str, options))}, got {value!r}",
        )
        return value

    def boolean(self, obj: Mapping[str, Any], key: str, path: str) -> None:
        if key in obj:
            self.v.need(isinstance(obj[key], bool), f"{path}.{key} must be true or false")

    def integer(self, obj: Mapping[str, Any], key: str, path: str, low: int, high: int) -> None:
        if key in obj:
            value = obj[key]
            self.v.need(
                isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
                f"{path}.{key} must be a whole number from {low} to {high}, got {value!r}",
            )

    def array(
        self, obj: Mapping[str, Any], key: str, path: str, most: int | None = None
    ) -> list[Any]:
        if key not in obj:
            return []
        value = obj[key]
        if not self.v.need(isinstance(value, list), f"{path}.{key} must be an array"):
            return []
        if most is not None:
            self.v.need(len(value) <= most, f"{path}.{key} has over {most} items")
        return list(value)

    def timestamp(self, obj: Mapping[str, Any], key: str, path: str) -> None:
        if key in obj:
            value = obj[key]
            ok = isinstance(value, str)
            if ok:
                try:
                    datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError:
                    ok = False
            self.v.need(ok, f"{path}.{key} must be an ISO 8601 time, got {value!r}")


def _json(request: Request, verdict: Verdict) -> Any:
    import json

    content_type = request.headers.get("content-type", "")
    verdict.need(
        content_type.split(";")[0].strip() == "application/json",
        f"Content-Type must be application/json, got {content_type!r}",
    )
    try:
        return json.loads(request.body)
    except ValueError:
        verdict.problems.append("the body is not JSON")
        return None


HEADLINE = re.compile(r"^(DOWN|UP|STILL DOWN|CERTIFICATE) (.+)$", re.DOTALL)
INCIDENT = re.compile(r"Incident\W{1,3}(\d+)")


def _kind(title: str | None) -> str | None:
    match = HEADLINE.match(title or "")
    return match.group(1) if match else None


def _incident(text: str | None) -> int | None:
    match = INCIDENT.search(text or "")
    return int(match.group(1)) if match else None


# --- PagerDuty ---------------------------------------------------------------------------
PD_ACTIONS = {"trigger", "acknowledge", "resolve"}
PD_SEVERITIES = {"critical", "error", "warning", "info"}


def check_pagerduty(request: Request, creds: Credentials) -> Verdict:
    v = Verdict(status=202)
    s = Shape(v)
    v.need(request.method == "POST" and request.path == "/v2/enqueue", "POST /v2/enqueue")
    event = s.object(_json(request, v), "event")
    s.only(
        event,
        {"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client",
         "client_url"},
        "event",
    )  # fmt: skip
    key = s.text(event, "routing_key", "event", required=True)
    if key is not None:
        v.need(len(key) == 32, "Length of 'routing_key' is incorrect (should be 32 characters)")
        v.unauthorised = key != creds.pagerduty_routing_key
    action = s.one_of(event, "event_action", PD_ACTIONS, "event", required=True)
    dedup = s.text(event, "dedup_key", "event", required=action != "trigger", most=255)
    if action == "trigger":
        payload = s.object(event.get("payload"), "event.payload")
        s.only(
            payload,
            {"summary", "source", "severity", "timestamp", "component", "group", "class",
             "custom_details"},
            "payload",
        )  # fmt: skip
        summary = s.text(payload, "summary", "payload", required=True, most=1024)
        s.text(payload, "source", "payload", required=True)
        severity = s.one_of(payload, "severity", PD_SEVERITIES, "payload", required=True)
        s.timestamp(payload, "timestamp", "payload")
        for key_name in ("component", "group", "class"):
            s.text(payload, key_name, "payload")
        if "custom_details" in payload:
            s.object(payload["custom_details"], "payload.custom_details")
        v.summary.update(summary=summary, severity=severity, kind=_kind(summary))
    for index, item in enumerate(s.array(event, "links", "event")):
        link = s.object(item, f"links[{index}]")
        s.only(link, {"href", "text"}, f"links[{index}]")
        s.text(link, "href", f"links[{index}]", required=True)
    for index, item in enumerate(s.array(event, "images", "event")):
        image = s.object(item, f"images[{index}]")
        s.text(image, "src", f"images[{index}]", required=True)
    s.text(event, "client", "event")
    s.text(event, "client_url", "event")
    v.summary.update(action=action, key=dedup)
    return v


# --- Opsgenie ----------------------------------------------------------------------------
OG_PRIORITIES = {"P1", "P2", "P3", "P4", "P5"}
OG_RESPONDERS = {"team", "user", "escalation", "schedule"}
OG_CLOSE = re.compile(r"^/v2/alerts/([^/]+)/close$")


def check_opsgenie(request: Request, creds: Credentials) -> Verdict:
    from urllib.parse import unquote

    v = Verdict(status=202)
    s = Shape(v)
    v.unauthorised = request.headers.get("authorization") != f"GenieKey {creds.opsgenie_api_key}"
    v.need(request.method == "POST", "POST")
    body = s.object(_json(request, v), "body")
    close = OG_CLOSE.match(request.path)
    if request.path == "/v2/alerts":
        s.only(
            body,
            {"message", "alias", "description", "responders", "visibleTo", "actions", "tags",
             "details", "entity", "source", "priority", "user", "note"},
            "alert",
        )  # fmt: skip
        message = s.text(body, "message", "alert", required=True, most=130)
        alias = s.text(body, "alias", "alert", most=512)
        s.text(body, "description", "alert", most=15000)
        for index, item in enumerate(s.array(body, "responders", "alert")):
            responder = s.object(item, f"responders[{index}]")
            s.one_of(responder, "type", OG_RESPONDERS, f"responders[{index}]", required=True)
            names = [k for k in ("id", "name", "username") if k in responder]
            v.need(len(names) == 1, f"responders[{index}] needs one of id, name, username")
        tags = s.array(body, "tags", "alert", most=20)
        v.need(
            all(isinstance(t, str) and 0 < len(t) <= 50 for t in tags),
            "alert.tags must be strings of at most 50 characters",
        )
        actions = s.array(body, "actions", "alert", most=10)
        v.need(all(isinstance(a, str) and len(a) <= 50 for a in actions), "alert.actions")
        details = s.object(body.get("details", {}), "alert.details")
        v.need(
            all(isinstance(k, str) and isinstance(x, str) for k, x in details.items()),
            "alert.details must map strings to strings",
        )
        v.need(
            sum(len(k) + len(x) for k, x in details.items() if isinstance(x, str)) <= 8000,
            "alert.details is over 8000 characters",
        )
        s.text(body, "entity", "alert", most=512)
        s.text(body, "source", "alert", most=100)
        priority = s.one_of(body, "priority", OG_PRIORITIES, "alert", required=False)
        s.text(body, "user", "alert", most=100)
        s.text(body, "note", "alert", most=25000)
        v.summary.update(
            action="create",
            key=alias,
            priority=priority,
            message=message,
            kind=_kind(message),
            incident=int(details["Incident"]) if str(details.get("Incident")).isdigit() else None,
        )
    elif close:
        identifier_type = (request.query.get("identifierType") or ["id"])[0]
        v.need(
            identifier_type in {"id", "tiny", "alias"},
            f"identifierType must be id, tiny or alias, got {identifier_type!r}",
        )
        s.only(body, {"user", "source", "note"}, "close")
        s.text(body, "user", "close", most=100)
        s.text(body, "source", "close", most=100)
        s.text(body, "note", "close", most=25000)
        v.summary.update(
            action="close", key=unquote(close.group(1)), identifier_type=identifier_type
        )
    else:
        v.problems.append(f"no such endpoint: {request.path}")
    return v


# --- Microsoft Teams (Workflows) and Adaptive Cards --------------------------------------
CARD_VERSIONS = {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6"}
CONTAINER_STYLES = {
    "1.0": {"default", "emphasis"},
    "1.2": {"default", "emphasis", "good", "attention", "warning", "accent"},
}
TEXT_SIZES = {"default", "small", "medium", "large", "extralarge"}
TEXT_WEIGHTS = {"default", "lighter", "bolder"}
TEXT_COLOURS = {"default", "dark", "light", "accent", "good", "warning", "attention"}
ELEMENT_KEYS = {
    "TextBlock": {"type", "text", "size", "weight", "wrap", "color", "isSubtle", "spacing",
                  "separator", "horizontalAlignment", "maxLines", "id", "fontType"},
    "FactSet": {"type", "facts", "spacing", "separator", "id"},
    "Container": {"type", "items", "style", "spacing", "separator", "bleed", "id",
                  "verticalContentAlignment", "selectAction"},
}  # fmt: skip


def _version_at_least(version: str, wanted: str) -> bool:
    return tuple(map(int, version.split("."))) >= tuple(map(int, wanted.split(".")))


def _card_element(element: object, path: str, version: str, s: Shape) -> list[str]:
    """Checks one element; returns the texts it shows."""
    item = s.object(element, path)
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in ELEMENT_KEYS:
        s.v.problems.append(f"{path}.type {kind!r} is not an element wac uses")
        return []
    s.only(item, ELEMENT_KEYS[kind], path)
    texts: list[str] = []
    if kind == "TextBlock":
        text = s.text(item, "text", path, required=True)
        texts.append(text or "")
        for key, options in (("size", TEXT_SIZES), ("weight", TEXT_WEIGHTS),
                             ("color", TEXT_COLOURS)):  # fmt: skip
            if key in item:
                s.v.need(
                    isinstance(item[key], str) and item[key].lower() in options,
                    f"{path}.{key} {item[key]!r} is not one of {sorted(options)}",
                )
        s.boolean(item, "wrap", path)
    elif kind == "FactSet":
        facts = s.array(item, "facts", path)
        s.v.need(facts, f"{path}.facts must not be empty")
        for index, fact in enumerate(facts):
            entry = s.object(fact, f"{path}.facts[{index}]")
            s.only(entry, {"title", "value"}, f"{path}.facts[{index}]")
            title = s.text(entry, "title", f"{path}.facts[{index}]", required=True)
            value = s.text(entry, "value", f"{path}.facts[{index}]", required=True)
            texts.append(f"{title}: {value}")
    else:  # Container
        styles = CONTAINER_STYLES["1.2" if _version_at_least(version, "1.2") else "1.0"]
        if "style" in item:
            s.v.need(
                item["style"] in styles,
                f"{path}.style {item['style']!r} is not in card version {version}",
            )
        items = s.array(item, "items", path)
        s.v.need(items, f"{path}.items must not be empty")
        for index, child in enumerate(items):
            texts += _card_element(child, f"{path}.items[{index}]", version, s)
    return texts


def check_teams(request: Request, creds: Credentials) -> Verdict:
    v = Verdict(status=202)
    s = Shape(v)
    expected = f"/workflows/{creds.teams_workflow_id}/triggers/manual/paths/invoke"
    v.unauthorised = request.path != expected or request.query.get("sig") != [creds.teams_signature]
    v.need(request.query.get("api-version"), "the api-version query parameter is missing")
    message = s.object(_json(request, v), "message")
    v.need(message.get("type") == "message", "message.type must be 'message'")
    attachments = s.array(message, "attachments", "message")
    v.need(attachments, "message.attachments must hold the card")
    texts: list[str] = []
    for index, raw in enumerate(attachments):
        path = f"attachments[{index}]"
        attachment = s.object(raw, path)
        s.only(attachment, {"contentType", "contentUrl", "content", "name"}, path)
        v.need(
            attachment.get("contentType") == "application/vnd.microsoft.card.adaptive",
            f"{path}.contentType must be application/vnd.microsoft.card.adaptive",
        )
        card = s.object(attachment.get("content"), f"{path}.content")
        s.only(card, {"$schema", "type", "version", "body", "actions", "msteams"}, "card")
        v.need(card.get("type") == "AdaptiveCard", "card.type must be AdaptiveCard")
        version = card.get("version")
        if not v.need(version in CARD_VERSIONS, f"card.version {version!r} is not known"):
            version = "1.0"
        body = s.array(card, "body", "card")
        v.need(body, "card.body must not be empty")
        for position, element in enumerate(body):
            texts += _card_element(element, f"card.body[{position}]", str(version), s)
        for position, raw_action in enumerate(s.array(card, "actions", "card")):
            action = s.object(raw_action, f"card.actions[{position}]")
            v.need(action.get("type") == "Action.OpenUrl", "only Action.OpenUrl is expected")
            s.text(action, "url", f"card.actions[{position}]", required=True)
            s.text(action, "title", f"card.actions[{position}]")
    v.summary.update(
        action="message",
        kind=_kind(texts[0] if texts else None),
        title=texts[0] if texts else None,
        incident=_incident("\n".join(texts)),
    )
    return v


# --- Discord -----------------------------------------------------------------------------
EMBED_KEYS = {"title", "type", "description", "url", "timestamp", "color", "footer", "image",
              "thumbnail", "video", "provider", "author", "fields"}  # fmt: skip


def check_discord(request: Request, creds: Credentials) -> Verdict:
    v = Verdict()
    s = Shape(v)
    v.unauthorised = request.path != (
        f"/api/webhooks/{creds.discord_webhook_id}/{creds.discord_webhook_token}"
    )
    v.status = 200 if request.query.get("wait") == ["true"] else 204
    message = s.object(_json(request, v), "message")
    s.only(
        message,
        {"content", "username", "avatar_url", "tts", "embeds", "allowed_mentions", "components",
         "flags", "thread_name", "applied_tags", "poll"},
        "message",
    )  # fmt: skip
    content = s.text(message, "content", "message", most=2000, empty=True)
    embeds = s.array(message, "embeds", "message", most=10)
    v.need(content or embeds, "Cannot send an empty message: give content or embeds")
    username = s.text(message, "username", "message", most=80)
    if username:
        v.need(
            "discord" not in username.lower() and "clyde" not in username.lower(),
            "username must not contain 'discord' or 'clyde'",
        )
    s.text(message, "avatar_url", "message")
    mentions = s.object(message.get("allowed_mentions", {}), "message.allowed_mentions")
    parse = s.array(mentions, "parse", "allowed_mentions")
    v.need(set(parse) <= {"roles", "users", "everyone"}, "allowed_mentions.parse")
    total = 0
    titles, texts = [], []
    for index, raw in enumerate(embeds):
        path = f"embeds[{index}]"
        embed = s.object(raw, path)
        s.only(embed, EMBED_KEYS, path)
        title = s.text(embed, "title", path, most=256)
        description = s.text(embed, "description", path, most=4096)
        url = s.text(embed, "url", path)
        if url is not None:
            v.need(url.startswith(("http://", "https://")), f"{path}.url must be http(s)")
        s.timestamp(embed, "timestamp", path)
        s.integer(embed, "color", path, 0, 0xFFFFFF)
        fields = s.array(embed, "fields", path, most=25)
        total += len(title or "") + len(description or "")
        titles.append(title or "")
        texts += [title or "", description or ""]
        for number, raw_field in enumerate(fields):
            where = f"{path}.fields[{number}]"
            entry = s.object(raw_field, where)
            s.only(entry, {"name", "value", "inline"}, where)
            name = s.text(entry, "name", where, required=True, most=256)
            value = s.text(entry, "value", where, required=True, most=1024)
            s.boolean(entry, "inline", where)
            total += len(name or "") + len(value or "")
            texts.append(f"{name}: {value}")
        if "footer" in embed:
            footer = s.object(embed["footer"], f"{path}.footer")
            total += len(s.text(footer, "text", f"{path}.footer", required=True, most=2048) or "")
        if "author" in embed:
            author = s.object(embed["author"], f"{path}.author")
            total += len(s.text(author, "name", f"{path}.author", required=True, most=256) or "")
    v.need(total <= 6000, f"the embeds hold {total} characters, over 6000")
    v.summary.update(
        action="message",
        kind=_kind(titles[0] if titles else content),
        title=titles[0] if titles else None,
        incident=_incident("\n".join(texts)),
        mentions=parse,
    )
    return v


# --- Telegram ----------------------------------------------------------------------------
TG_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
           "blockquote", "span", "tg-spoiler", "tg-emoji"}  # fmt: skip
TG_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")
TG_TOKEN = re.compile(r"^/bot([0-9]+:[A-Za-z0-9_-]+)/sendMessage$")


class _TelegramHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.shown: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TG_TAGS:
            self.problems.append(f"Unsupported start tag {tag!r}")
        allowed = {"a": {"href"}, "span": {"class"}, "code": {"class"},
                   "blockquote": {"expandable"}, "tg-emoji": {"emoji-id"}}  # fmt: skip
        for name, _ in attrs:
            if name not in allowed.get(tag, set()):
                self.problems.append(f"attribute {name!r} is not allowed on {tag!r}")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"Can't find end tag corresponding to start tag {tag!r}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.shown.append(data)


def telegram_shown_text(text: str) -> tuple[str, list[str]]:
    """What a reader sees of an HTML `text`, and the parse errors Telegram would give."""
    problems: list[str] = []
    for match in re.finditer(r"&[^;\s]{0,10};?", text):
        if not TG_ENTITY.fullmatch(match.group(0)):
            problems.append(f"Can't parse entities: bad entity {match.group(0)!r}")
    for match in re.finditer(r"<[^>]*>?", text):
        if not re.fullmatch(r"</?([a-z-]+)(\s[^<>]*)?>", match.group(0)):
            problems.append(f"Can't parse entities: unexpected {match.group(0)[:20]!r}")
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    problems += parser.problems
    if parser.stack:
        problems.append(f"unclosed tags {parser.stack}")
    return "".join(parser.shown), problems


def check_telegram(request: Request, creds: Credentials) -> Verdict:
    v = Verdict()
    s = Shape(v)
    match = TG_TOKEN.match(request.path)
    if match is None:
        v.problems.append(f"no such method: {request.path[:12]}...")
        return v
    v.unauthorised = match.group(1) != creds.telegram_bot_token
    message = s.object(_json(request, v), "message")
    s.only(
        message,
        {"chat_id", "text", "parse_mode", "entities", "link_preview_options",
         "disable_notification", "protect_content", "message_thread_id", "reply_parameters",
         "reply_markup", "business_connection_id", "message_effect_id"},
        "sendMessage",
    )  # fmt: skip
    chat = message.get("chat_id")
    v.need(
        (isinstance(chat, int) and not isinstance(chat, bool))
        or (isinstance(chat, str) and re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{3,}|-?[0-9]+", chat)),
        f"chat_id must be an integer or @channelusername, got {chat!r}",
    )
    mode = s.one_of(message, "parse_mode", {"HTML", "MarkdownV2", "Markdown"}, "sendMessage",
                    required=False)  # fmt: skip
    text = s.text(message, "text", "sendMessage", required=True) or ""
    shown = text
    if mode == "HTML":
        shown, problems = telegram_shown_text(text)
        v.problems += problems
    length = sum(2 if ord(c) > 0xFFFF else 1 for c in shown)
    v.need(shown.strip() and length <= 4096, f"text is {length} characters, not 1-4096")
    s.integer(message, "message_thread_id", "sendMessage", 1, 2**53)
    if "link_preview_options" in message:
        options = s.object(message["link_preview_options"], "link_preview_options")
        s.boolean(options, "is_disabled", "link_preview_options")
    first_line = shown.split("\n", 1)[0]
    v.summary.update(
        action="sendMessage",
        chat_id=chat,
        parse_mode=mode,
        kind=_kind(first_line),
        title=first_line,
        incident=_incident(shown),
    )
    return v


# --- ntfy --------------------------------------------------------------------------------
NTFY_TOPIC = re.compile(r"^[-_A-Za-z0-9]{1,64}$")


def check_ntfy(request: Request, creds: Credentials) -> Verdict:
    v = Verdict()
    s = Shape(v)
    v.need(request.method in ("POST", "PUT") and request.path in ("", "/"), "POST to the root")
    if creds.ntfy_token:
        v.unauthorised = request.headers.get("authorization") != f"Bearer {creds.ntfy_token}"
    message = s.object(_json(request, v), "message")
    s.only(
        message,
        {"topic", "message", "title", "tags", "priority", "actions", "click", "attach",
         "markdown", "icon", "filename", "delay", "email", "call"},
        "message",
    )  # fmt: skip
    topic = s.text(message, "topic", "message", required=True)
    v.need(topic is None or NTFY_TOPIC.match(topic), "invalid topic")
    body = s.text(message, "message", "message", empty=True) or ""
    v.need(len(body.encode()) <= 4096, "message is over 4096 bytes")
    title = s.text(message, "title", "message")
    s.integer(message, "priority", "message", 1, 5)
    tags = s.array(message, "tags", "message")
    v.need(all(isinstance(t, str) and t for t in tags), "tags must be strings")
    click = s.text(message, "click", "message")
    if click is not None:
        v.need(click.startswith(("http://", "https://")), "click must be a URL")
    s.boolean(message, "markdown", "message")
    v.summary.update(
        action="publish",
        topic=topic,
        kind=_kind(title),
        title=title,
        priority=message.get("priority"),
        tags=tags,
        incident=_incident(body),
    )
    return v


# --- Pushover ----------------------------------------------------------------------------
PUSHOVER_FIELDS = {"token", "user", "message", "attachment", "attachment_base64",
                   "attachment_type", "device", "html", "monospace", "priority", "retry",
                   "expire", "callback", "sound", "timestamp", "title", "ttl", "url",
                   "url_title", "tags"}  # fmt: skip
PUSHOVER_KEY = re.compile(r"^[A-Za-z0-9]{30}$")


def check_pushover(request: Request, creds: Credentials) -> Verdict:
    v = Verdict()
    v.need(request.method == "POST" and request.path == "/1/messages.json", "POST messages.json")
    content_type = request.headers.get("content-type", "").split(";")[0]
    v.need(
        content_type == "application/x-www-form-urlencoded",
        f"Content-Type must be form-encoded, got {content_type!r}",
    )
    raw = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    for key, values in raw.items():
        v.need(key in PUSHOVER_FIELDS, f"unknown parameter {key!r}")
        v.need(len(values) == 1, f"parameter {key!r} given {len(values)} times")
    form = {key: values[0] for key, values in raw.items()}
    token, user = form.get("token", ""), form.get("user", "")
    v.need(PUSHOVER_KEY.match(token), "application token is invalid")
    v.need(PUSHOVER_KEY.match(user), "user identifier is not a valid user, group, or key")
    v.unauthorised = token != creds.pushover_token or user != creds.pushover_user
    message = form.get("message", "")
    v.need(message.strip(), "message cannot be blank")
    v.need(len(message) <= 1024, "message is over 1024 characters")
    v.need(len(form.get("title", "")) <= 250, "title is over 250 characters")
    v.need(len(form.get("url", "")) <= 512, "url is over 512 characters")
    v.need(len(form.get("url_title", "")) <= 100, "url_title is over 100 characters")
    priority = form.get("priority", "0")
    v.need(re.fullmatch(r"-?[0-2]", priority), f"priority {priority!r} is not -2 to 2")
    if priority == "2":
        v.need(form.get("retry", "").isdigit() and int(form["retry"]) >= 30, "retry >= 30")
        v.need(form.get("expire", "").isdigit() and int(form["expire"]) <= 10800, "expire")
    v.need(form.get("timestamp", "1").isdigit(), "timestamp must be a Unix time")
    for flag in ("html", "monospace"):
        v.need(form.get(flag, "0") in ("0", "1"), f"{flag} must be 0 or 1")
    v.summary.update(
        action="message",
        kind=_kind(form.get("title")),
        title=form.get("title"),
        priority=int(priority) if re.fullmatch(r"-?[0-2]", priority) else None,
        incident=_incident(message),
    )
    return v


# --- Google Chat -------------------------------------------------------------------------
GC_MESSAGE_KEYS = {"text", "cardsV2", "thread", "fallbackText", "accessoryWidgets",
                   "privateMessageViewer", "formattedText"}  # fmt: skip
GC_CARD_KEYS = {"header", "sections", "sectionDividerStyle", "cardActions", "name",
                "fixedFooter", "displayStyle", "peekCardHeader"}  # fmt: skip
GC_WIDGETS = {"textParagraph", "image", "decoratedText", "buttonList", "textInput",
              "selectionInput", "dateTimePicker", "divider", "grid", "columns",
              "chipList"}  # fmt: skip
GC_REPLY = {"MESSAGE_REPLY_OPTION_UNSPECIFIED", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD",
            "REPLY_MESSAGE_OR_FAIL"}  # fmt: skip


def _chat_widget(raw: object, path: str, s: Shape) -> list[str]:
    widget = s.object(raw, path)
    kinds = [k for k in widget if k in GC_WIDGETS]
    s.only(widget, GC_WIDGETS | {"horizontalAlignment"}, path)
    if not s.v.need(len(kinds) == 1, f"{path} must hold exactly one widget, has {kinds}"):
        return []
    kind = kinds[0]
    body = s.object(widget[kind], f"{path}.{kind}")
    if kind == "textParagraph":
        s.only(body, {"text", "maxLines"}, f"{path}.textParagraph")
        return [s.text(body, "text", f"{path}.textParagraph", required=True) or ""]
    if kind == "decoratedText":
        s.only(
            body,
            {"text", "topLabel", "bottomLabel", "wrapText", "startIcon", "endIcon", "icon",
             "button", "switchControl", "onClick"},
            f"{path}.decoratedText",
        )  # fmt: skip
        text = s.text(body, "text", f"{path}.decoratedText", required=True)
        label = s.text(body, "topLabel", f"{path}.decoratedText")
        s.boolean(body, "wrapText", f"{path}.decoratedText")
        return [f"{label}: {text}"]
    if kind == "buttonList":
        buttons = s.array(body, "buttons", f"{path}.buttonList")
        s.v.need(buttons, f"{path}.buttonList.buttons must not be empty")
        for index, raw_button in enumerate(buttons):
            button = s.object(raw_button, f"{path}.buttons[{index}]")
            s.text(button, "text", f"{path}.buttons[{index}]", required=True)
            click = s.object(button.get("onClick"), f"{path}.buttons[{index}].onClick")
            link = s.object(click.get("openLink"), f"{path}.buttons[{index}].openLink")
            s.text(link, "url", f"{path}.buttons[{index}].openLink", required=True)
    return []


def check_google_chat(request: Request, creds: Credentials) -> Verdict:
    v = Verdict()
    s = Shape(v)
    v.need(
        request.path == f"/v1/spaces/{creds.google_chat_space}/messages",
        "POST /v1/spaces/SPACE/messages",
    )
    v.unauthorised = request.query.get("key") != [creds.google_chat_key] or request.query.get(
        "token"
    ) != [creds.google_chat_token]
    reply = request.query.get("messageReplyOption", ["MESSAGE_REPLY_OPTION_UNSPECIFIED"])[0]
    v.need(reply in GC_REPLY, f"messageReplyOption {reply!r} is not valid")
    v.need(len(request.body) <= 32000, "the message is over 32,000 bytes")
    message = s.object(_json(request, v), "message")
    s.only(message, GC_MESSAGE_KEYS, "message")
    text = s.text(message, "text", "message", most=4096)
    cards = s.array(message, "cardsV2", "message")
    v.need(text or cards, "a message needs text or cardsV2")
    shown: list[str] = []
    titles: list[str] = []
    for index, raw in enumerate(cards):
        path = f"cardsV2[{index}]"
        entry = s.object(raw, path)
        s.only(entry, {"cardId", "card"}, path)
        s.text(entry, "cardId", path, required=True)
        card = s.object(entry.get("card"), f"{path}.card")
        s.only(card, GC_CARD_KEYS, f"{path}.card")
        if "header" in card:
            header = s.object(card["header"], f"{path}.header")
            s.only(header, {"title", "subtitle", "imageUrl", "imageType", "imageAltText"},
                   f"{path}.header")  # fmt: skip
            titles.append(s.text(header, "title", f"{path}.header", required=True) or "")
            s.text(header, "subtitle", f"{path}.header")
            if "imageType" in header:
                v.need(header["imageType"] in {"SQUARE", "CIRCLE"}, "header.imageType")
        sections = s.array(card, "sections", f"{path}.card")
        v.need(sections, f"{path}.card.sections must not be empty")
        for number, raw_section in enumerate(sections):
            where = f"{path}.sections[{number}]"
            section = s.object(raw_section, where)
            s.only(section, {"header", "widgets", "collapsible", "uncollapsibleWidgetsCount"},
                   where)  # fmt: skip
            widgets = s.array(section, "widgets", where)
            v.need(widgets, f"{where}.widgets must not be empty")
            for position, widget in enumerate(widgets):
                shown += _chat_widget(widget, f"{where}.widgets[{position}]", s)
    thread_key = None
    if "thread" in message:
        thread = s.object(message["thread"], "message.thread")
        s.only(thread, {"name", "threadKey"}, "message.thread")
        thread_key = s.text(thread, "threadKey", "message.thread", most=4000)
    v.summary.update(
        action="message",
        kind=_kind(titles[0] if titles else text),
        title=titles[0] if titles else text,
        thread_key=thread_key,
        reply_option=reply,
        incident=_incident(html.unescape("\n".join(shown))),
    )
    return v


CHECKS = {
    "pagerduty": check_pagerduty,
    "opsgenie": check_opsgenie,
    "teams": check_teams,
    "discord": check_discord,
    "telegram": check_telegram,
    "ntfy": check_ntfy,
    "pushover": check_pushover,
    "google_chat": check_google_chat,
}
