"""The HTTP probe against local servers the tests start (no Kafka needed).

Every case runs through both drivers: libcurl's multi interface (what the monitor
and `wac check` use) and a blocking easy handle (the one-at-a-time baseline).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator

import pytest

from tests.support.servers import (
    SiteHandler,
    free_port,
    full_backlog_server,
    local_ca,
    not_http_server,
    silent_server,
    tls_site,
)
from wac.probes.http import probe_blocking
from wac.probes.once import run_checks
from wac.probes.policy import ProbePolicy
from wac.result import CheckResult, decode, encode
from wac.targets import Target, target_from_url

Check = Callable[..., CheckResult]


@pytest.fixture(params=["multi", "blocking"])
def check(request: pytest.FixtureRequest) -> Check:
    def run(
        url: str,
        *,
        timeout: float = 1.0,
        pattern: str | None = None,
        ca_bundle: str | None = None,
        block_private: bool = False,
        **changes: object,
    ) -> CheckResult:
        policy = ProbePolicy(ca_bundle=ca_bundle, block_private=block_private)
        target = target_from_url(url, interval=10, timeout=timeout, pattern=pattern)
        if changes:
            target = dataclasses.replace(target, **changes)  # type: ignore[arg-type]
        if request.param == "multi":
            (result,) = run_checks([target], "test", policy=policy)
        else:
            result = probe_blocking(target, "test", policy=policy)
        # Whatever happened, the result is a valid v1 message.
        assert decode(encode(result)) == result
        return result

    return run


@pytest.fixture(scope="module")
def tls_sites() -> Iterator[dict[str, tuple[str, dt.datetime]]]:
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield {
            kind: stack.enter_context(tls_site(kind))
            for kind in ("good", "self_signed", "expired", "wrong_host")
        }


def kind_of(result: CheckResult) -> str | None:
    return result.error.kind if result.error is not None else None


def test_ok_with_phases(site: str, check: Check) -> None:
    result = check(f"{site}/ok")
    assert result.ok and result.error is None
    assert result.status_code == 200
    p = result.phases
    assert p.resolve is not None and p.connect is not None
    assert p.processing is not None and p.transfer is not None
    assert p.tls is None  # plain HTTP has no handshake
    assert result.response_time_ms is not None and result.response_time_ms > 0
    assert result.tls_expires_at is None and result.final_url is None
    assert result.pattern is None and result.pattern_matched is None


def test_pattern_found_and_missing(site: str, check: Check) -> None:
    found = check(f"{site}/ok", pattern=r"Hello from \w+")
    assert found.ok and found.pattern_matched is True and found.pattern == r"Hello from \w+"
    missing = check(f"{site}/ok", pattern="Goodbye")
    assert not missing.ok and missing.pattern_matched is False
    assert kind_of(missing) == "pattern" and "Goodbye" in missing.error.message  # type: ignore[union-attr]
    assert missing.status_code == 200 and missing.response_time_ms is not None


@pytest.mark.parametrize("status", [404, 500])
def test_unexpected_status(site: str, check: Check, status: int) -> None:
    result = check(f"{site}/status/{status}")
    assert not result.ok and result.status_code == status
    assert kind_of(result) == "status"
    assert str(status) in result.error.message  # type: ignore[union-attr]
    assert result.phases.processing is not None


def test_expected_status_method_and_headers(site: str, check: Check) -> None:
    assert check(f"{site}/status/404", expect_status=frozenset({404})).ok
    head = check(f"{site}/ok", method="HEAD")
    assert head.ok and head.status_code == 200
    sent = check(f"{site}/headers", headers=(("X-Wac-Test", "hello"),), pattern="X-Wac-Test: hello")
    assert sent.ok and sent.pattern_matched is True


def test_server_that_never_answers_times_out_waiting_for_response(site: str, check: Check) -> None:
    result = check(f"{site}/hang", timeout=0.5)
    assert kind_of(result) == "timeout"
    assert "0.5 s" in result.error.message  # type: ignore[union-attr]
    assert "waiting for the response" in result.error.message  # type: ignore[union-attr]
    assert result.status_code is None and not result.ok and result.response_time_ms is None
    assert result.phases.connect is not None and result.phases.processing is None


@pytest.mark.parametrize(
    ("scheme", "stage"), [("http", "waiting for the response"), ("https", "in the TLS handshake")]
)
def test_server_that_accepts_and_never_answers(check: Check, scheme: str, stage: str) -> None:
    with silent_server() as port:
        result = check(f"{scheme}://127.0.0.1:{port}/", timeout=0.4)
    assert kind_of(result) == "timeout" and not result.ok
    assert stage in result.error.message  # type: ignore[union-attr]
    assert result.phases.connect is not None and result.phases.tls is None


def test_connect_that_never_completes_times_out_connecting(check: Check) -> None:
    with full_backlog_server() as port:
        result = check(f"http://127.0.0.1:{port}/", timeout=0.4)
    assert kind_of(result) == "timeout"
    assert "while connecting" in result.error.message  # type: ignore[union-attr]
    assert result.phases.connect is None


def test_trickling_body_times_out_reading_the_body(site: str, check: Check) -> None:
    result = check(f"{site}/trickle", timeout=0.5)
    assert kind_of(result) == "timeout" and not result.ok
    assert "reading the response body" in result.error.message  # type: ignore[union-attr]
    assert result.status_code == 200  # the headers came
    assert result.phases.processing is not None


def test_refused_port(check: Check) -> None:
    result = check(f"http://127.0.0.1:{free_port()}/")
    assert kind_of(result) == "connect" and not result.ok
    assert "refused" in result.error.message  # type: ignore[union-attr]
    assert result.status_code is None and result.phases.connect is None


def test_unresolvable_name(check: Check) -> None:
    result = check("http://no-such-host.invalid/", timeout=5)
    assert kind_of(result) == "dns" and not result.ok
    assert "no-such-host.invalid" in result.error.message  # type: ignore[union-attr]
    assert result.phases.connect is None


def test_body_over_cap(site: str, check: Check) -> None:
    result = check(f"{site}/big/5000", max_body_bytes=1000)
    assert kind_of(result) == "too_large" and not result.ok
    assert "1000 byte" in result.error.message  # type: ignore[union-attr]
    assert check(f"{site}/big/1000", max_body_bytes=1000).ok  # at the cap is fine


def test_pattern_searched_in_a_big_body_within_the_cap(site: str, check: Check) -> None:
    assert check(f"{site}/big/300000", pattern="a{1000}").ok


def test_redirect_followed_and_recorded(site: str, check: Check) -> None:
    result = check(f"{site}/redirect")
    assert result.ok and result.status_code == 200
    assert result.final_url == f"{site}/ok"
    stopped = check(f"{site}/redirect", max_redirects=0)
    assert stopped.ok and stopped.status_code == 301 and stopped.final_url is None


def test_redirect_loop(site: str, check: Check) -> None:
    result = check(f"{site}/loop")
    assert kind_of(result) == "protocol" and not result.ok
    assert "redirect" in result.error.message  # type: ignore[union-attr]


def test_response_that_is_not_http(check: Check) -> None:
    with not_http_server() as base:
        result = check(f"{base}/")
    assert kind_of(result) == "protocol" and not result.ok
    assert "not valid HTTP" in result.error.message  # type: ignore[union-attr]
    assert result.status_code is None


def test_tls_verified_with_expiry_and_handshake_time(tls_sites, check: Check) -> None:
    base, not_after = tls_sites["good"]
    result = check(f"{base}/ok", ca_bundle=str(local_ca().bundle))
    assert result.ok, result.error
    assert result.tls_expires_at == not_after
    assert result.phases.tls is not None and result.phases.tls > 0


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("self_signed", "self-signed"),
        ("expired", "expired"),
        ("wrong_host", "another host name"),
    ],
)
def test_bad_certificates(tls_sites, check: Check, kind: str, reason: str) -> None:
    base, _ = tls_sites[kind]
    result = check(f"{base}/ok", ca_bundle=str(local_ca().bundle))
    assert kind_of(result) == "tls" and not result.ok
    assert reason in result.error.message, result.error  # type: ignore[union-attr]
    assert result.status_code is None and result.phases.connect is not None


def test_unknown_authority_is_a_tls_error_with_the_system_bundle(tls_sites, check: Check) -> None:
    base, _ = tls_sites["good"]
    result = check(f"{base}/ok")
    assert kind_of(result) == "tls"
    assert "unknown authority" in result.error.message  # type: ignore[union-attr]


def test_verify_tls_false_accepts_a_bad_certificate_and_still_reads_expiry(
    tls_sites, check: Check
) -> None:
    base, not_after = tls_sites["expired"]
    result = check(f"{base}/ok", verify_tls=False)
    assert result.ok and result.status_code == 200
    assert result.tls_expires_at == not_after < dt.datetime.now(dt.UTC)


def test_every_check_opens_a_fresh_connection(site: str) -> None:
    # One easy handle and one multi handle for all: still a new connection each time.
    targets = [target_from_url(f"{site}/peer?n={i}", interval=10, timeout=1) for i in range(3)] + [
        target_from_url(f"{site}/peer?n=0", interval=10, timeout=1)
    ]
    SiteHandler.peers.clear()
    results = run_checks(targets, "test", max_in_flight=1)
    assert all(r.ok for r in results)
    assert all(r.phases.connect is not None for r in results)
    assert len(set(SiteHandler.peers)) == 4


def test_many_at_once_keep_their_order_and_own_timeouts(site: str) -> None:
    targets: list[Target] = [
        target_from_url(f"{site}/slow/300?n={i}", interval=10, timeout=2) for i in range(20)
    ]
    targets.append(target_from_url(f"{site}/hang", interval=10, timeout=0.3))
    results = run_checks(targets, "test")
    assert [r.url for r in results] == [t.url for t in targets]
    assert all(r.ok for r in results[:-1])
    assert kind_of(results[-1]) == "timeout"


def test_private_targets_refused_when_blocked(check: Check, site: str) -> None:
    """WAC_BLOCK_PRIVATE_TARGETS: judged after DNS, on the address connected to."""
    for url in (f"{site}/ok", site.replace("127.0.0.1", "localhost") + "/ok"):
        result = check(url, block_private=True)
        assert not result.ok and result.status_code is None
        assert result.error is not None and result.error.kind == "connect"
        assert "WAC_BLOCK_PRIVATE_TARGETS" in result.error.message
        assert "127.0.0.1" in result.error.message or "::1" in result.error.message
    assert check(f"{site}/ok").ok  # the same site, unblocked


def test_allowed_addresses_connect_through_the_guard(
    check: Check, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the guard on, a permitted address is connected by our socket callback."""
    import os

    import wac.probes.http

    monkeypatch.setattr(wac.probes.http, "is_public_address", lambda address: True)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        assert check(f"{site}/ok", block_private=True).ok
    assert len(os.listdir("/proc/self/fd")) <= before + 1  # no socket left behind


def test_credentials_sent_but_not_published(check: Check, site: str) -> None:
    from tests.support.servers import last_authorization

    url = site.replace("http://", "http://monitor:s3cret@") + "/ok"
    result = check(url)
    assert result.ok
    assert last_authorization() == "Basic bW9uaXRvcjpzM2NyZXQ="  # monitor:s3cret, sent
    assert "s3cret" not in encode(result).decode()
    assert result.url == site.replace("http://", "http://***@") + "/ok"


def test_endless_body_is_cut_at_the_cap(site: str, check: Check) -> None:
    result = check(f"{site}/endless", timeout=5.0)
    assert not result.ok and result.status_code == 200
    assert result.error is not None and result.error.kind == "too_large"


def test_huge_headers_are_too_large(site: str, check: Check) -> None:
    result = check(f"{site}/huge-headers", timeout=5.0)
    assert not result.ok
    assert result.error is not None and result.error.kind == "too_large"
    assert "headers" in result.error.message


def test_a_reused_check_keeps_nothing_of_the_previous_target(site: str) -> None:
    """One check object and its handle for all (max_in_flight=1): each target gets its own
    method, headers, body, timeout and body handling, never the previous target's."""

    def target(path: str, **changes: object) -> Target:
        made = target_from_url(f"{site}{path}", interval=10, timeout=2)
        return dataclasses.replace(made, **changes)  # type: ignore[arg-type]

    from wac.patterns import compile_body_pattern

    def pattern(text: str) -> dict[str, object]:
        return {"pattern": text, "compiled_pattern": compile_body_pattern(text)}

    targets = [
        target("/headers", method="POST", body=b'{"a": 1}', headers=(("X-Test", "one"),)),
        target("/headers", **pattern("X-Test")),  # a plain GET: the header is gone
        target("/big/100", method="HEAD"),
        target("/big/100", **pattern("a{100}")),  # a GET again: the body is read
        target("/hang", timeout=0.3),
        target("/slow/500", timeout=2),  # the longer timeout is set again
        target("/status/503"),
        target("/ok"),
    ]
    results = run_checks(targets, "test", max_in_flight=1)
    assert results[0].ok and results[0].status_code == 200  # POST: the echo
    assert kind_of(results[1]) == "pattern" and results[1].pattern_matched is False
    assert results[2].ok and results[3].ok and results[3].pattern_matched is True
    assert kind_of(results[4]) == "timeout"
    assert results[5].ok
    assert kind_of(results[6]) == "status"
    assert results[7].ok and results[7].pattern_matched is None
    assert len({r.id for r in results}) == len(results)
