"""Arbitrary YAML through the targets loader and the alerts-section loader (Hypothesis).

Whatever the file holds, loading it gives a valid target list (or alert configuration)
or a ConfigError of one line: never another exception, never a hang, never a secret in
the message. Every target the loader accepts can be handed to libcurl as it is.

Documents come from three sources: arbitrary bytes, arbitrary text, and documents
shaped like targets files (the real keys with valid and hostile values of every YAML
type, anchors and aliases, merge keys, duplicate keys, alias bombs, exotic tags).
`pytest --hypothesis-show-statistics` prints the examples tried per test and the share
of each outcome (the `event` lines); WAC_PROPERTY_EXAMPLES sets how many (300).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wac import limits
from wac.alerts.config import AlertConfig, parse_alert_config
from wac.errors import ConfigError
from wac.probes.http import HttpCheck
from wac.targets import Target, parse_targets_document
from wac.yaml_config import parse_yaml

ENV = {
    "HOOK_SECRET": "s3cret-hmac-key",
    "SLACK_URL": "https://hooks.slack.test/T0/B0/s3cret-token",
    "PW": "s3cret-password",
}
# The environment's secrets, a URL's password and a secret written inline (refused):
# none may appear in a message.
SECRETS = ("s3cret-hmac-key", "s3cret-token", "s3cret-password", "inline-s3cret")

PROPERTY_SETTINGS = settings(
    # 300 each keeps `make test` fast; WAC_PROPERTY_EXAMPLES=5000 for a deeper search.
    max_examples=int(os.environ.get("WAC_PROPERTY_EXAMPLES", "300")),
    deadline=timedelta(seconds=5),  # a bomb expanded would take hours, not seconds
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# A real hang cannot be interrupted from Python (a C loop holding the GIL): the thread
# method dumps every stack and ends the run, so a hang fails loudly instead of waiting.
pytestmark = pytest.mark.timeout(240, method="thread")


# ---- the outcome checks -------------------------------------------------------------


def assert_one_line(error: ConfigError) -> None:
    message = str(error)
    assert message and "\n" not in message and "\r" not in message, message
    assert len(message) < 2000, message[:300]
    assert "Traceback" not in message
    for secret in SECRETS:
        assert secret not in message, message


def assert_checkable(target: Target) -> None:
    """Nothing accepted can make a check throw: the values are in range and libcurl
    takes every option as it is."""
    assert limits.MIN_INTERVAL_S <= target.interval <= limits.MAX_INTERVAL_S
    assert limits.MIN_TIMEOUT_S <= target.timeout <= limits.MAX_TIMEOUT_S
    assert 0 <= target.max_redirects <= limits.MAX_REDIRECTS
    assert 0 < target.max_body_bytes <= limits.MAX_BODY_BYTES
    assert target.url.isascii() and target.url.isprintable() and " " not in target.url
    assert target.id.strip() and target.id.isprintable()
    for name, value in target.headers:
        assert name.isascii() and value.isascii() and "\n" not in value
    check = HttpCheck(target, "property-test")
    check.close()


def load_targets(data: bytes | str) -> list[Target] | None:
    try:
        document = parse_yaml(data, "t.yaml")
        targets = parse_targets_document(document, source="t.yaml", default_timeout=1.0)
    except ConfigError as error:
        assert_one_line(error)
        event(f"targets: ConfigError ({classify(error)})")
        return None
    event("targets: accepted")
    for target in targets:
        assert_checkable(target)
    return targets


def load_alerts(data: bytes | str) -> AlertConfig | None:
    try:
        config = parse_alert_config(parse_yaml(data, "t.yaml"), source="t.yaml", env=ENV)
    except ConfigError as error:
        assert_one_line(error)
        event(f"alerts: ConfigError ({classify(error)})")
        return None
    event("alerts: accepted")
    assert isinstance(config, AlertConfig)
    return config


def classify(error: ConfigError) -> str:
    message = str(error)
    if "not valid YAML" in message or "not UTF-8" in message:
        return "YAML"
    if "line " in message and "column " in message:
        return "loader rule"
    return "validation"


# ---- arbitrary input ------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(data: bytes) -> None:
    load_targets(data)
    load_alerts(data)


@PROPERTY_SETTINGS
@given(st.text(max_size=3000))
def test_arbitrary_text(text: str) -> None:
    load_targets(text)
    load_alerts(text)


# ---- documents shaped like targets files ----------------------------------------------

TEXTS = [
    "",
    " ",
    "x",
    "\x00",
    "\x1b[31m",
    "\u202eevil",
    "é",
    "a\r\nInjected: yes",
    "\t",
    "x" * 9000,
]
PLAIN = [
    "~",
    "null",
    "yes",
    "No",
    "on",
    "true",
    "0",
    "-1",
    "1",
    "0x1F",
    "0o17",
    "1:30",
    "12_000",
    "1" * 5000,
    "1e300",
    "1e400",
    ".inf",
    "-.inf",
    ".nan",
    "0.0001",
    "2024-13-45",
    "2024-01-01T00:00:00Z",
    "2001-12-14t21:59:43.10+99:00",
    "!!binary aGVsbG8=",
    "!!str 123",
    "!!int abc",
    "!!float abc",
    "!!timestamp 2024-99-99",
    "!!set {a}",
    "!!omap [a: 1]",
    "!!python/object:os.system x",
    "!custom x",
    "<<",
    "=",
    "*undefined",
]
# Each field: values that are valid (drawn most of the time) and hostile ones.
URLS = (
    ["https://example.com/", "http://127.0.0.1:9/ok?a=1&b=2", "https://[::1]:8443/"],
    [
        "https://user:s3cret-password@example.com/x",
        "http://example.com:99999/",
        "https://[::1/",
        "https://u:s3cret-password@[::1/",
        "ftp://example.com/",
        "https://b\u00fccher.example/",
        "http:///nohost",
        "https://example.com/a b",
        "https://example.com/\x00",
        "https://example.com/" + "a" * 9000,
    ],
)
TIMEOUTS = (["10s", "250ms", "5m", "1h", "0.5"], ["2h", "0s", "-1s", "0.0001", "1e300", "nan"])
DURATIONS = (
    ["10s", "250ms", "5m", "1h", "2h", "0.5"],
    ["25h", "0s", "-1s", "0.01s", "1e300", "soon", "9" * 400],
)
NAMES = (
    ["shop", "blog", "caf\u00e9 \u2615"],
    ["a" * 2000, "", " ", "\x00", "\x1b[31m", "\u202eevil", "a\nb"],
)
METHODS = (["GET", "head", "POST"], ["FETCH", "G\u00c9T", ""])
PATTERNS = (
    ["Example Domain", "(a+)+$", "caf\u00e9", "(?i)ok|up"],
    [r"(\w)\1", "(?=x)", "(", "\\pL{300}", "a{1001}", "x" * 2000],
)
SIZES = (["1MiB", "65536", "1GiB"], ["2GiB", "0", "9" * 40, "lots", "-5"])
REDIRECTS = (["0", "5", "30"], ["31", "-1", "1" + "0" * 20, "1.5", "x"])
HEADER_NAMES = (["Accept", "X-Token"], ["Bad Name", "X-\u00c9", "X:Y", ""])
HEADER_VALUES = (
    ["text/html", "tab\there", "1"],
    ["caf\u00e9", "a\x00b", "line\nbreak", "\x7f", "x" * 9000],
)
QUORUMS = (["majority", "all", "2"], ["0", "-3", "[1]", "x"])
ZONES = (["UTC", "Europe/Paris"], ["Nowhere/Else", "../../etc/passwd", "x" * 300, "", "\x00"])


Maker = Callable[[st.DrawFn], str]


def rarely(draw: st.DrawFn, n: int) -> bool:
    """True about once in n + 1 draws; shrinking makes it False (the simpler document)."""
    return draw(st.integers(0, n)) == n


MODE = {"clean": False}  # set per document: draw only valid values


def scalar_text(value: str) -> str:
    """A YAML double-quoted scalar for any text (JSON's escapes are YAML's)."""
    return json.dumps(value, ensure_ascii=False)


@st.composite
def documents(draw: st.DrawFn, *, with_alerts: bool) -> str:
    anchors: list[str] = []
    clean = MODE["clean"] = draw(st.integers(0, 2)) == 0  # a third: every value valid

    def anchor() -> str:
        name = f"a{len(anchors)}"
        anchors.append(name)
        return name

    def scalar() -> str:
        kind = draw(st.integers(0, 5))
        if kind == 0:
            return draw(st.sampled_from(PLAIN))
        if kind == 1:
            return scalar_text(draw(st.sampled_from(TEXTS)))
        if kind == 2:
            return scalar_text(draw(st.text(max_size=20)))
        if kind == 3:
            return str(draw(st.integers(-(10**30), 10**30)))
        if kind == 4:
            return repr(draw(st.floats()))
        return draw(_pick(draw(st.sampled_from([URLS, DURATIONS, NAMES, PATTERNS]))))

    def bomb() -> str:
        width = draw(st.integers(2, 9))
        text = "[" + ", ".join(["lol"] * width) + "]"
        for _ in range(draw(st.integers(1, 12))):
            name = anchor()
            text = f"[&{name} {text}" + f", *{name}" * (width - 1) + "]"
        return text

    def node(depth: int) -> str:
        kind = draw(st.integers(0, 9 if depth < 3 else 3))
        if kind <= 1:
            text = scalar()
        elif kind == 2 and anchors:
            return "*" + draw(st.sampled_from(anchors))
        elif kind == 3:
            return bomb() if rarely(draw, 4) else scalar()
        elif kind <= 6:
            items = [node(depth + 1) for _ in range(draw(st.integers(0, 4)))]
            text = "[" + ", ".join(items) + "]"
        else:
            keys = st.sampled_from([*VALUES, "defaults", "targets", "alerts", "x", "1"])
            text = mapping({draw(keys): lambda: node(depth + 1) for _ in range(3)})
        if rarely(draw, 5):
            text = f"&{anchor()} {text}"
        return text

    def mapping(fields: dict[str, object]) -> str:
        pairs = []
        for key, make in fields.items():
            value = make() if callable(make) else str(make)
            pairs.append(f"{key}: {value}")
            if not clean and rarely(draw, 60):  # the same key twice
                pairs.append(f"{key}: {value}")
        if anchors and not clean and rarely(draw, 10):
            pairs.append(f"<<: *{draw(st.sampled_from(anchors))}")
        return "{" + ", ".join(pairs) + "}"

    def value_for(key: str) -> str:
        if not clean and rarely(draw, 15):  # any node at all in any field
            return node(2)
        return VALUES[key](draw)

    def target() -> str:
        keys = draw(st.lists(st.sampled_from(TARGET_KEYS), max_size=6, unique=True))
        if clean or not rarely(draw, 10):
            keys = ["url", *[k for k in keys if k != "url"]]
        if not rarely(draw, 4):
            keys = [*[k for k in keys if k != "name"], "name"]
        fields: dict[str, object] = {k: (lambda k=k: value_for(k)) for k in keys}
        if "name" in fields and not rarely(draw, 3):
            fields["name"] = scalar_text(f"target-{len(anchors)}-{draw(st.integers(0, 10**6))}")
        if not clean and rarely(draw, 20):
            fields[draw(st.sampled_from(["intervall", "URL", "1", "~"]))] = "x"
        text = mapping(fields)
        if rarely(draw, 6):
            text = f"&{anchor()} {text}"
        return text

    lines = []
    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from(DEFAULT_KEYS), max_size=3, unique=True))
        lines.append("defaults: " + mapping({k: (lambda k=k: value_for(k)) for k in keys}))
    lines.append("targets:")
    for _ in range(draw(st.integers(1 if clean else 0, 4))):
        lines.append("  - " + (target() if clean or draw(st.integers(0, 8)) else node(1)))
    if with_alerts:
        lines.append("alerts: " + alerts_section(draw, node))
    if not clean and rarely(draw, 15):
        lines.append(draw(st.sampled_from(["targets: []", "x: 1", "---", "- a", "alerts: 1"])))
    return "\n".join(lines) + "\n"


def _pick(choices: tuple[list[str], list[str]], quoted: bool = True) -> st.SearchStrategy[str]:
    """Mostly a valid value, sometimes a hostile one."""
    valid, hostile = choices
    if MODE["clean"]:
        return st.sampled_from(valid).map(scalar_text if quoted else str)
    picked = st.one_of(*[st.sampled_from(valid)] * 4, st.sampled_from(hostile))
    return picked.map(scalar_text if quoted else str)


def _headers(draw: st.DrawFn) -> str:
    names = draw(st.lists(_pick(HEADER_NAMES), max_size=3, unique=True))
    pairs = [f"{name}: {draw(_pick(HEADER_VALUES))}" for name in names]
    return "{" + ", ".join(pairs) + "}"


def _statuses(draw: st.DrawFn) -> str:
    valid = st.lists(st.sampled_from([200, 204, 301, 404]), min_size=1, max_size=3).map(str)
    hostile = st.sampled_from(["[0]", "[999]", "[]", "[x]", "true", "99999999999999999999"])
    return draw(valid if MODE["clean"] else st.one_of(valid, valid, valid, hostile))


VALUES: dict[str, Maker] = {
    "url": lambda draw: draw(_pick(URLS)),
    "name": lambda draw: draw(_pick(NAMES)),
    "interval": lambda draw: draw(_pick(DURATIONS, quoted=False)),
    "timeout": lambda draw: draw(_pick(TIMEOUTS, quoted=False)),
    "method": lambda draw: draw(_pick(METHODS)),
    "headers": _headers,
    "expect_status": _statuses,
    "pattern": lambda draw: draw(_pick(PATTERNS)),
    "verify_tls": lambda draw: draw(_pick((["true", "false", "yes"], ["sometimes", "1"]), False)),
    "max_body_size": lambda draw: draw(_pick(SIZES, quoted=False)),
    "max_redirects": lambda draw: draw(_pick(REDIRECTS, quoted=False)),
}
TARGET_KEYS = list(VALUES)
DEFAULT_KEYS = [k for k in TARGET_KEYS if k not in ("url", "name", "pattern")]


def alerts_section(draw: st.DrawFn, node: Callable[[int], str]) -> str:
    clean = MODE["clean"]

    def maybe(text: str) -> str:
        return text if clean or not rarely(draw, 8) else node(2)

    notifier_names = draw(
        st.lists(
            st.sampled_from(["ops", "chat", "mail"] if clean else ["ops", "chat", "bad name"]),
            max_size=3,
            unique=True,
        )
    )

    def rules() -> str:
        keys = draw(st.lists(st.sampled_from(list(RULE_VALUES)), max_size=4, unique=True))
        pairs = [f"{k}: {maybe(RULE_VALUES[k](draw))}" for k in keys if k != "notify"]
        if draw(st.booleans()):
            names = draw(st.lists(st.sampled_from(notifier_names or ["ops"]), unique=True))
            notify = "[" + ", ".join(map(scalar_text, names if clean else [*names, "nope"])) + "]"
            pairs.append(f"notify: {maybe(notify)}")
        return "{" + ", ".join(pairs) + "}"

    def notifier(name: str) -> str:
        if clean:
            return {
                "ops": "{type: webhook, url: 'https://hooks.example.com/x',"
                " secret_env: HOOK_SECRET, headers: {X-Team: web}, timeout: 3s}",
                "chat": "{type: slack, url_env: SLACK_URL, username: wac}",
                "mail": "{type: email, host: smtp.example.com, username: alerts, password_env: PW,"
                " from: a@example.com, to: [b@example.com]}",
            }[name]
        kind = draw(st.sampled_from(["webhook", "slack", "email", "pager", "[webhook]"]))
        keys = draw(st.lists(st.sampled_from(list(NOTIFIER_VALUES)), max_size=5, unique=True))
        pairs = [f"type: {kind}"] + [f"{k}: {maybe(NOTIFIER_VALUES[k](draw))}" for k in keys]
        return "{" + ", ".join(pairs) + "}"

    def window() -> str:
        scope = "" if clean else "targets: [shop], "
        if draw(st.booleans()):
            start = draw(_pick((["2025-06-01T22:00:00Z"], ["2025-06-01", "soon", "1"]), False))
            end = draw(_pick((["2025-06-01T23:00:00Z"], ["2024-01-01T00:00:00Z", "x"]), False))
            return f"{{{scope}start: {start}, end: {end}}}"
        days = draw(_pick((["[sun]", "[sun, wed]", "sun"], ["[funday]", "[1]"]), False))
        start = draw(_pick((['"02:00"', "02:00", "120"], ['"25:00"', "x"]), False))
        duration = draw(_pick(DURATIONS, quoted=False))
        zone = draw(_pick(ZONES))
        weekly = f"days: {days}, start: {start}, duration: {duration}, timezone: {zone}"
        return f"{{{scope}weekly: {{{weekly}}}}}"

    parts = []
    if draw(st.booleans()):
        parts.append(f"defaults: {maybe(rules())}")
    if not clean and draw(st.booleans()):
        names = draw(st.lists(st.sampled_from(["shop", "nope", "1"]), max_size=2, unique=True))
        parts.append("targets: {" + ", ".join(f"{n}: {rules()}" for n in names) + "}")
    if notifier_names:
        pairs = [f"{scalar_text(n)}: {maybe(notifier(n))}" for n in notifier_names]
        parts.append("notifiers: {" + ", ".join(pairs) + "}")
    if draw(st.booleans()):
        windows = [window() for _ in range(draw(st.integers(0, 2)))]
        parts.append("maintenance: [" + ", ".join(windows) + "]")
    if draw(st.booleans()):
        keys = draw(st.lists(st.sampled_from(list(DELIVERY_VALUES)), max_size=4, unique=True))
        if clean:
            keys = [k for k in keys if k != "retry_max"]  # may not be below retry_initial
        pairs = [f"{k}: {maybe(DELIVERY_VALUES[k](draw))}" for k in keys]
        parts.append("delivery: {" + ", ".join(pairs) + "}")
    if draw(st.booleans()):
        parts.append(f"start_lookback: {draw(_pick(DURATIONS, quoted=False))}")
    return "{" + ", ".join(parts) + "}"


def _plain(valid: list[str], hostile: list[str]) -> Maker:
    return lambda draw: draw(_pick((valid, hostile), quoted=False))


RULE_VALUES: dict[str, Maker] = {
    "failure_threshold": _plain(["3", "1"], ["0", "-1", "1e3", "x", "true", "9" * 30]),
    "success_threshold": _plain(["2"], ["0", "[2]"]),
    "quorum": _plain(*QUORUMS),
    "location_expiry": _plain(*DURATIONS),
    "reminder_interval": _plain(["1h", "off", "false", "~"], ["0s", "1e300"]),
    "cert_expiry_days": _plain(["[14, 7, 1]", "7", "[]", "~"], ["[x]", "[0]"]),
    "notify": _plain(["[]"], ["ops", "~", "[1]", "{a: 1}"]),
}
NOTIFIER_VALUES: dict[str, Maker] = {
    "url": lambda draw: draw(_pick(URLS)),
    "url_env": _plain(["SLACK_URL"], ["UNSET", "[x]", "''"]),
    "secret_env": _plain(["HOOK_SECRET"], ["UNSET", "1"]),
    "secret": lambda draw: "inline-s3cret",
    "headers": _headers,
    "timeout": _plain(*DURATIONS),
    "ca_file": _plain(["/nonexistent.pem"], ["[1]", '"\\0"']),
    "host": _plain(["smtp.example.com"], ["''", "[h]"]),
    "port": _plain(["25"], ["0", "70000", "x", "[25]"]),
    "security": _plain(["starttls", "tls", "none"], ["[tls]", "{a: 1}"]),
    "username": _plain(["alerts"], ["''", "[u]"]),
    "password_env": _plain(["PW"], ["UNSET"]),
    "from": _plain(["a@example.com"], ["[x]"]),
    "to": _plain(["a@example.com", "[a@example.com]"], ["[x]", "[]", "{a: 1}"]),
    "icon_emoji": _plain([":bell:"], ["[x]"]),
}
DELIVERY_VALUES: dict[str, Maker] = {
    "retry_initial": _plain(*DURATIONS),
    "retry_max": _plain(*DURATIONS),
    "give_up_after": _plain(*DURATIONS),
    "workers": _plain(["4", "1"], ["0", "-1", "x", "10000000000"]),
}


@PROPERTY_SETTINGS
@given(documents(with_alerts=False))
def test_targets_shaped_documents(text: str) -> None:
    load_targets(text)


@PROPERTY_SETTINGS
@given(documents(with_alerts=True))
def test_alerts_shaped_documents(text: str) -> None:
    load_alerts(text)
