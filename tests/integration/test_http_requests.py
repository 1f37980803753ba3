"""HTTP targets beyond a GET, from their targets-file fields to the request a real local
server sees: a body or JSON, credentials from the environment, a client certificate
(mutual TLS, nginx), HTTP/2 (nginx), the IP version."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.nginx import Sites, client_cert_files, nginx_sites
from tests.support.probes import assert_valid, kind_of
from tests.support.servers import (
    SiteHandler,
    http_site,
    last_authorization,
    local_ca,
    tls_site,
)
from wac.probes.once import run_checks
from wac.probes.policy import ProbePolicy
from wac.result import CheckResult, encode
from wac.targets import parse_targets_document, target_to_json


def check_entry(entry: dict[str, Any], *, ca: bool = False) -> CheckResult:
    """One check of the target a targets-file entry describes."""
    (target,) = parse_targets_document({"targets": [entry]}, source="t.yaml", default_timeout=2)
    policy = ProbePolicy(ca_bundle=str(local_ca().bundle) if ca else None)
    (result,) = run_checks([target], "test", policy=policy)
    assert_valid(result)
    return result


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with http_site() as base:
        yield base


@pytest.fixture(scope="module")
def nginx() -> Iterator[Sites]:
    with nginx_sites() as sites:
        yield sites


def test_a_text_body_is_sent_with_the_method(site: str) -> None:
    result = check_entry(
        {
            "url": f"{site}/echo",
            "method": "PUT",
            "body": "name=wac",
            "assert": ["[BODY].method == PUT", '[BODY].body == "name=wac"'],
        }
    )
    assert result.ok, result.error


def test_json_is_sent_as_json_with_its_content_type(site: str) -> None:
    result = check_entry(
        {
            "url": f"{site}/echo",
            "method": "POST",
            "json": {"job": "backup", "tries": 3},
            "assert": [
                "[BODY].content_type == application/json",
                '[BODY].body == "{\\"job\\":\\"backup\\",\\"tries\\":3}"',
            ],
        }
    )
    assert result.ok, result.error


def test_basic_credentials_come_from_the_environment_and_stay_out_of_results(
    site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_LOGIN", "ops:s3cret-pass")
    entry = {"url": f"{site}/ok", "basic_auth_env": "SHOP_LOGIN"}
    (target,) = parse_targets_document({"targets": [entry]}, source="t", default_timeout=2)
    result = check_entry(entry)
    assert result.ok
    assert last_authorization() == "Basic b3BzOnMzY3JldC1wYXNz"  # base64 of ops:s3cret-pass
    assert b"s3cret" not in encode(result) and "s3cret" not in repr(target)
    assert target_to_json(target)["basic_auth_env"] == "SHOP_LOGIN"
    assert "s3cret" not in json.dumps(target_to_json(target))


def test_a_bearer_token_from_the_environment(site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "tok-123.abc")
    assert check_entry({"url": f"{site}/ok", "bearer_token_env": "API_TOKEN"}).ok
    assert last_authorization() == "Bearer tok-123.abc"


def test_http2_is_negotiated_and_reported(nginx: Sites) -> None:
    result = check_entry(
        {
            "url": f"{nginx.h2}/ok",
            "http_version": "2",
            "assert": ["[HEADER].x-protocol == HTTP/2.0", "[BODY] == ok over HTTP/2.0"],
        },
        ca=True,
    )
    assert result.ok, result.error
    assert result.details is not None and result.details.http_version == "2"
    one = check_entry({"url": f"{nginx.h2}/ok", "http_version": "1.1"}, ca=True)
    assert one.ok and one.details is not None and one.details.http_version == "1.1"


def test_http2_asked_of_a_server_without_it_is_a_protocol_failure() -> None:
    with tls_site("good") as (base, _):  # Python's server: HTTP/1.1 only
        result = check_entry({"url": f"{base}/ok", "http_version": 2}, ca=True)
    assert kind_of(result) == "protocol", result.error
    assert result.error is not None and "HTTP/1.1, not HTTP/2" in result.error.message


def test_mutual_tls_with_a_client_certificate(nginx: Sites, tmp_path: Path) -> None:
    cert, key = client_cert_files(tmp_path)
    entry = {"url": f"{nginx.mtls}/ok", "client_cert": str(cert), "client_key": str(key)}
    result = check_entry({**entry, "assert": ["[BODY] contains CN=wac test client"]}, ca=True)
    assert result.ok, result.error
    without = check_entry({"url": f"{nginx.mtls}/ok"}, ca=True)
    assert kind_of(without) == "status" and without.status_code == 400
    foreign_cert, foreign_key = client_cert_files(tmp_path / "..", signed_by_ca=False)
    foreign = check_entry(
        {
            "url": f"{nginx.mtls}/ok",
            "client_cert": str(foreign_cert),
            "client_key": str(foreign_key),
        },
        ca=True,
    )
    assert kind_of(foreign) == "status" and foreign.status_code == 400


def test_ip_version_6_reaches_a_server_on_ipv6_only() -> None:
    server = ThreadingHTTPServer(("::1", 0), SiteHandler, bind_and_activate=False)
    server.address_family = socket.AF_INET6
    server.socket = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    server.server_bind()
    server.server_activate()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        assert check_entry({"url": f"http://localhost:{port}/ok", "ip_version": 6}).ok
        four = check_entry({"url": f"http://localhost:{port}/ok", "ip_version": 4})
        assert kind_of(four) == "connect"
    finally:
        server.shutdown()
        server.server_close()
