"""The targets-file fields of every probe, through the one field table: each fills its
probe's option structure (or the HTTP request), the JSON value of a target gets them
too, and a field of another scheme, a missing variable or a bad file is one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.nginx import client_cert_files
from tests.support.servers import _leaf
from wac.errors import ConfigError
from wac.heartbeat.options import PushOptions
from wac.probes.dns import DnsOptions
from wac.probes.icmp import IcmpOptions
from wac.probes.tcp import TcpOptions
from wac.probes.tls import TlsOptions
from wac.targets import Target, parse_targets_document, target_from_json, target_to_json

TOKEN = "0123456789abcdef0123"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKUP_TOKEN", TOKEN)
    monkeypatch.setenv("SHOP_LOGIN", "ops:pa55word")
    monkeypatch.setenv("API_TOKEN", "tok-secret-1")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)


def load(*entries: dict[str, Any], defaults: dict[str, Any] | None = None) -> list[Target]:
    document: dict[str, Any] = {"targets": list(entries)}
    if defaults:
        document["defaults"] = defaults
    return parse_targets_document(document, source="t.yaml", default_timeout=1.0)


def one(entry: dict[str, Any]) -> Target:
    (target,) = load(entry)
    return target


def refused(entry: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        load(entry)
    message = str(caught.value)
    assert "\n" not in message
    try:
        value = json.dumps(entry)
    except TypeError:  # a YAML-only value (a set): the file's case only
        return message
    # the same words for the target's JSON value
    with pytest.raises(ConfigError) as as_json:
        target_from_json(value)
    assert str(as_json.value).split(": ", 1)[-1] == message.split(": ", 2)[-1]
    return message


def test_each_probe_field_fills_its_options() -> None:
    tcp, tls, dns, icmp, push = load(
        {"url": "tcp://db:5432", "send": "PING\r\n", "expect": "^\\+PONG", "tls": True},
        {"url": "tls://shop.example:443", "min_tls_version": "TLSv1.2"},
        {"url": "dns://9.9.9.9/example.com?type=MX", "expect": "^10 "},
        {"url": "icmp://gateway", "count": 5},
        {
            "url": "push://nightly-backup",
            "interval": "1h",
            "grace": "5m",
            "token_env": "BACKUP_TOKEN",
        },
    )
    assert tcp.probe_options == TcpOptions(send=b"PING\r\n", expect="^\\+PONG", tls=True)
    assert tls.probe_options == TlsOptions(min_tls_version="TLSv1.2")
    assert dns.probe_options == DnsOptions(expect="^10 ")
    assert icmp.probe_options == IcmpOptions(count=5)
    assert push.probe_options == PushOptions(token_env="BACKUP_TOKEN", token=TOKEN, grace=300.0)
    assert push.interval == 3600.0
    # the target id of another probe is its URL (no method)
    assert [t.id for t in (tcp, dns)] == ["tcp://db:5432", "dns://9.9.9.9/example.com?type=MX"]
    assert TOKEN not in repr(push)


def test_the_json_value_of_each_probe_reads_back_the_same() -> None:
    targets = load(
        {
            "url": "tcp://db:5432",
            "send": "PING",
            "expect": "PONG",
            "assert": ["[RESPONSE_TIME] < 50"],
        },
        {"url": "tls://shop.example:443", "min_tls_version": "TLSv1.3", "verify_tls": False},
        {"url": "dns:///example.com?type=TXT", "assert": ["[DNS_ANSWERS] contains x"]},
        {"url": "icmp://gateway", "count": 2, "timeout": "3s"},
        {"url": "push://nightly", "token_env": "BACKUP_TOKEN"},
        {
            "url": "https://shop.example/api",
            "method": "POST",
            "json": {"a": [1, 2]},
            "bearer_token_env": "API_TOKEN",
            "http_version": "2",
            "ip_version": 6,
            "assert": ["[STATUS] == 201", "[BODY].id != null"],
        },
    )
    for target in targets:
        form = target_to_json(target)
        assert target_from_json(json.dumps(form)) == target, form
    push_form = target_to_json(targets[4])
    assert push_form["token_env"] == "BACKUP_TOKEN" and TOKEN not in json.dumps(push_form)
    assert push_form["grace"] == 60.0 and push_form["method"] is None
    assert target_to_json(targets[5])["json"] == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"url": "https://a/", "send": "x"}, "send applies to tcp:// targets, not to https://"),
        ({"url": "dns://1.1.1.1/a", "tls": True}, "tls applies to tcp:// targets, not to dns://"),
        ({"url": "tcp://a:1", "method": "POST"}, "method applies to http://, https:// targets"),
        ({"url": "icmp://a", "expect": "x"}, "expect applies to dns://, tcp:// targets"),
        ({"url": "tcp://a:1", "count": 3}, "count applies to icmp:// targets"),
        ({"url": "https://a/", "min_tls_version": "TLSv1.2"}, "min_tls_version applies to tls://"),
        ({"url": "https://a/", "grace": "1m"}, "grace applies to push:// targets"),
        (
            {"url": "push://a", "token_env": "BACKUP_TOKEN", "timeout": "2s"},
            "timeout applies to",
        ),
        (
            {"url": "push://a", "token_env": "BACKUP_TOKEN", "assert": ["[STATUS] == 200"]},
            "assert applies to",
        ),
        ({"url": "tcp://a:1", "pattern": "x"}, "pattern applies to http://, https://"),
    ],
)
def test_a_field_of_another_probe_is_refused_by_name(entry: dict[str, Any], fragment: str) -> None:
    assert fragment in refused(entry)


def test_defaults_apply_only_where_their_field_does() -> None:
    tcp, web = load(
        {"url": "tcp://a:1"},
        {"url": "https://a/"},
        defaults={"method": "HEAD", "headers": {"X-A": "1"}, "tls": True, "count": 4},
    )
    assert tcp.method == "GET" and tcp.headers == () and tcp.probe_options == TcpOptions(tls=True)
    assert web.method == "HEAD" and web.headers == (("X-A", "1"),)


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"url": "tcp://a"}, "tcp:// URLs need a port"),
        ({"url": "tcp://a:1/path"}, "tcp:// URLs are tcp://host:port, with nothing after"),
        ({"url": "dns://1.1.1.1/a?type=PTR"}, "type=PTR is not one of"),
        ({"url": "icmp://a:7"}, "icmp:// URLs are icmp://host, with no port"),
        ({"url": "push://a/b", "token_env": "BACKUP_TOKEN"}, "push:// URLs are push://NAME"),
        ({"url": "gopher://a/"}, "must start with http://, https://, tcp://"),
        ({"url": "tcp://a:1", "send": ""}, "send must be non-empty text"),
        ({"url": "tcp://a:1", "expect": "(x"}, "expect '(x' is not a valid regex for RE2"),
        ({"url": "tcp://a:1", "tls": "yes"}, "tls must be true or false"),
        ({"url": "tls://a:1", "min_tls_version": "SSLv3"}, "min_tls_version must be one of"),
        ({"url": "icmp://a", "count": 0}, "count must be a whole number from 1 to 100"),
        ({"url": "push://a"}, "token_env is required for a push:// target"),
        (
            {"url": "push://a", "token_env": "NOT_SET_ANYWHERE"},
            "names NOT_SET_ANYWHERE, which is not set",
        ),
        (
            {"url": "push://a", "token_env": "SHOP_LOGIN"},
            "the value of SHOP_LOGIN (token_env) must be",
        ),
        ({"url": "push://a", "token_env": "BACKUP_TOKEN", "grace": 0}, "grace must be positive"),
        ({"url": "push://a", "token_env": "bad name"}, "token_env is the name of an environment"),
        (
            {"url": "https://a/", "method": "POST", "body": "x", "json": {}},
            "give body or json, not both",
        ),
        ({"url": "https://a/", "body": "x"}, "body is sent as a request body, which"),
        ({"url": "https://a/", "method": "POST", "json": {"d": {1, 2}}}, "json must be JSON data"),
        (
            {"url": "https://a/", "basic_auth_env": "NOT_SET_ANYWHERE"},
            "basic_auth_env names NOT_SET_ANYWHERE",
        ),
        (
            {"url": "https://a/", "basic_auth_env": "API_TOKEN"},
            "(basic_auth_env) must be user:password",
        ),
        (
            {"url": "https://a/", "basic_auth_env": "SHOP_LOGIN", "bearer_token_env": "API_TOKEN"},
            "give basic_auth_env or bearer_token_env, not both",
        ),
        (
            {
                "url": "https://a/",
                "bearer_token_env": "API_TOKEN",
                "headers": {"Authorization": "x"},
            },
            "headers sets Authorization and so does bearer_token_env",
        ),
        (
            {"url": "https://a/", "client_cert": "/nonexistent/c.pem"},
            "client_cert '/nonexistent/c.pem' cannot be read",
        ),
        ({"url": "https://a/", "http_version": "3"}, 'http_version must be "1.1" or "2"'),
        ({"url": "https://a/", "ip_version": 5}, "ip_version must be 4 or 6"),
        (
            {"url": "https://a/", "assert": ["[STATUS] = 200"]},
            "assert: condition '[STATUS] = 200': no operator",
        ),
        ({"url": "https://a/", "assert": []}, "assert must list at least one condition"),
        (
            {"url": "dns://1.1.1.1/a", "assert": ["[STATUS] == 200"]},
            "[STATUS] is measured by http://, https:// targets only",
        ),
        (
            {"url": "tcp://a:1", "assert": ["[CERTIFICATE_EXPIRATION] > 7d"]},
            "measured by https://, tcp with tls: true, tls:// targets only",
        ),
        (
            {"url": "https://a/", "assert": ["[DNS_ANSWERS] contains x"]},
            "[DNS_ANSWERS] is measured by dns://",
        ),
    ],
)
def test_bad_probe_fields_are_one_line(entry: dict[str, Any], fragment: str) -> None:
    message = refused(entry)
    assert fragment in message, message
    for secret in (TOKEN, "pa55word", "tok-secret-1"):
        assert secret not in message


def test_certificate_expiry_conditions_are_fine_on_tcp_with_tls() -> None:
    target = one({"url": "tcp://a:1", "tls": True, "assert": ["[CERTIFICATE_EXPIRATION] > 7d"]})
    assert target.assertions[0].number == 7 * 86400


def test_client_certificate_files_are_checked_at_load(tmp_path: Path) -> None:
    cert, key = client_cert_files(tmp_path)
    target = one({"url": "https://a/", "client_cert": str(cert), "client_key": str(key)})
    assert (target.client_cert, target.client_key) == (str(cert), str(key))
    other_key = tmp_path / "other.key"
    other_key.write_bytes(_leaf("good")[1])
    message = refused({"url": "https://a/", "client_cert": str(cert), "client_key": str(other_key)})
    assert (
        "client_cert and client_key do not load as a PEM certificate and its private key" in message
    )
    assert "client_key needs client_cert" in refused({"url": "https://a/", "client_key": str(key)})
    assert "client_cert is for https:// targets" in refused(
        {"url": "http://a/", "client_cert": str(cert), "client_key": str(key)}
    )


def test_duplicate_push_tokens_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="push://b uses the same token as push://a"):
        load(
            {"url": "push://a", "token_env": "BACKUP_TOKEN"},
            {"url": "push://b", "token_env": "BACKUP_TOKEN"},
        )
