"""The icmp:// probe: echo requests to 127.0.0.1 and ::1, with each kind of socket.

In this process the probe uses the socket the host allows it (here, as root with an
empty `net.ipv4.ping_group_range`: raw sockets). The other cases run in a child process
in a network namespace of its own (`unshare --net`: only its loopback, and sysctls
that change nothing outside it): datagram sockets once the group range allows them,
neither kind with CAP_NET_RAW dropped, a host that ignores echo requests, an address
with no route.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.probes import assert_valid, check_url, kind_of
from wac.probes.icmp import ICMP_UNAVAILABLE, IcmpOptions, parse_icmp_url
from wac.result import CheckResult, decode

ROOT = Path(__file__).resolve().parents[2]
ALL_GROUPS = "0 2147483647"

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="network namespaces and their sysctls need root"
)


def host_socket_kind() -> str:
    """The kind the probe gets in this process: datagram when our group is in the range."""
    low, high = map(int, Path("/proc/sys/net/ipv4/ping_group_range").read_text().split())
    return "datagram" if any(low <= g <= high for g in [*os.getgroups(), os.getgid()]) else "raw"


def in_namespace(
    urls: list[str], *, sysctls: dict[str, str], timeout: float = 1.0, drop_raw: bool = False
) -> list[CheckResult]:
    """Check `urls` in a child process in a fresh network namespace with these sysctls."""
    steps = ["ip link set lo up"]
    steps += [
        f"echo {shlex.quote(v)} > /proc/sys/{k.replace('.', '/')}" for k, v in sysctls.items()
    ]
    command = [sys.executable, "-m", "tests.support.icmp_child", str(timeout), *urls]
    if drop_raw:
        command = ["setpriv", "--bounding-set", "-net_raw", "--inh-caps", "-net_raw", *command]
    script = " && ".join([*steps, "exec " + shlex.join(command)])
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    results = [decode(line.encode()) for line in done.stdout.splitlines()]
    for result in results:
        assert_valid(result)
    assert [r.target for r in results] == urls
    return results


def assert_answered(result: CheckResult, address: str, kind: str, count: int = 3) -> None:
    assert result.ok and result.probe == "icmp", result.error
    details = result.details
    assert details is not None
    assert details.address == address and details.icmp_socket == kind
    assert (details.icmp_sent, details.icmp_received, details.icmp_loss_pct) == (count, count, 0)
    assert details.icmp_rtt_min_ms is not None and details.icmp_rtt_max_ms is not None
    assert details.icmp_rtt_avg_ms is not None
    assert details.icmp_rtt_min_ms <= details.icmp_rtt_avg_ms <= details.icmp_rtt_max_ms
    assert result.response_time_ms == details.icmp_rtt_avg_ms
    assert result.phases.resolve is not None and result.phases.connect is None


def test_echo_to_loopback_v4_and_v6_in_this_process() -> None:
    kind = host_socket_kind()
    assert_answered(check_url("icmp://127.0.0.1"), "127.0.0.1", kind)
    assert_answered(check_url("icmp://[::1]"), "::1", kind)
    assert_answered(check_url("icmp://localhost"), "127.0.0.1", kind)


def test_count_and_interval() -> None:
    started = time.monotonic()
    result = check_url("icmp://127.0.0.1", IcmpOptions(count=5, interval=0.05), timeout=2)
    assert_answered(result, "127.0.0.1", host_socket_kind(), count=5)
    assert time.monotonic() - started >= 0.2  # four intervals between five requests


def test_many_checks_at_once_share_the_socket_and_get_their_own_replies() -> None:
    from wac.probes.once import run_checks
    from wac.targets import Target

    targets = [
        Target(url=url, id=f"{url}#{i}", probe_options=IcmpOptions(count=4, interval=0.01))
        for i in range(30)
        for url in ("icmp://127.0.0.1", "icmp://[::1]")
    ]
    results = run_checks(targets, "many")
    assert len(results) == 60
    for result in results:
        assert result.ok and result.details is not None, result.error
        assert result.details.icmp_received == 4


def test_private_addresses_refused_when_blocked() -> None:
    result = check_url("icmp://127.0.0.1", block_private=True)
    assert kind_of(result) == "connect" and result.error is not None
    assert "WAC_BLOCK_PRIVATE_TARGETS" in result.error.message


def test_unresolvable_name() -> None:
    assert kind_of(check_url("icmp://no-such-host.invalid")) == "dns"


@needs_root
def test_datagram_sockets_where_the_kernel_allows_them() -> None:
    v4, v6 = in_namespace(
        ["icmp://127.0.0.1", "icmp://[::1]"], sysctls={"net.ipv4.ping_group_range": ALL_GROUPS}
    )
    assert_answered(v4, "127.0.0.1", "datagram")
    assert_answered(v6, "::1", "datagram")


@needs_root
def test_raw_sockets_with_the_privilege_when_the_range_is_empty() -> None:
    v4, v6 = in_namespace(
        ["icmp://127.0.0.1", "icmp://[::1]"], sysctls={"net.ipv4.ping_group_range": "1 0"}
    )
    assert_answered(v4, "127.0.0.1", "raw")
    assert_answered(v6, "::1", "raw")


@needs_root
def test_neither_kind_says_both_ways_to_allow_it_in_one_line() -> None:
    (result,) = in_namespace(
        ["icmp://127.0.0.1"], sysctls={"net.ipv4.ping_group_range": "1 0"}, drop_raw=True
    )
    assert kind_of(result) == "other" and result.error is not None
    assert result.error.message == ICMP_UNAVAILABLE
    assert "\n" not in ICMP_UNAVAILABLE
    assert "net.ipv4.ping_group_range" in ICMP_UNAVAILABLE and "CAP_NET_RAW" in ICMP_UNAVAILABLE


@needs_root
def test_host_that_does_not_answer_is_packet_loss_within_the_timeout() -> None:
    started = time.monotonic()
    v4, v6 = in_namespace(
        ["icmp://127.0.0.1", "icmp://[::1]"],
        sysctls={"net.ipv4.icmp_echo_ignore_all": "1", "net.ipv6.icmp.echo_ignore_all": "1"},
        timeout=0.5,
    )
    assert time.monotonic() - started < 20
    for result, address in ((v4, "127.0.0.1"), (v6, "::1")):
        assert kind_of(result) == "packet_loss" and result.error is not None
        assert result.error.message == (
            f"3 of 3 echo requests to {address} unanswered (100% loss) within 0.5 s"
        )
        assert result.details is not None and result.details.icmp_received == 0
        assert result.details.icmp_loss_pct == 100 and result.details.icmp_rtt_avg_ms is None
        assert result.response_time_ms is None


@needs_root
def test_address_with_no_route_is_unreachable() -> None:
    """192.0.2.1 (TEST-NET-1): the namespace has only its loopback, so nothing is sent."""
    (result,) = in_namespace(["icmp://192.0.2.1"], sysctls={})
    assert kind_of(result) == "connect" and result.error is not None
    assert "unreachable" in result.error.message


def test_max_loss_pct_and_the_verdicts() -> None:
    from wac.probes.contract import ProbeContext
    from wac.probes.icmp import _judge
    from wac.probes.netcheck import CheckFailed, SocketCheck
    from wac.probes.policy import DEFAULT_POLICY
    from wac.targets import Target

    context = ProbeContext("m", DEFAULT_POLICY, reactor=None, max_in_flight=1)  # type: ignore[arg-type]
    target = Target(url="icmp://192.0.2.1", id="x")

    def verdict(options: IcmpOptions, rtts: list[float]) -> str | None:
        check = SocketCheck(target, context, "icmp")
        try:
            _judge(check, options, "192.0.2.1", rtts)
        except CheckFailed as exc:
            return exc.error.message
        return None

    assert verdict(IcmpOptions(count=4), [1.0]) is None  # one reply is enough by default
    assert verdict(IcmpOptions(count=4, max_loss_pct=50), [1.0, 2.0]) is None
    assert verdict(IcmpOptions(count=4, max_loss_pct=50), [1.0]) == (
        "3 of 4 echo requests to 192.0.2.1 unanswered (75% loss), over max_loss_pct 50"
    )


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"count": 0}, "count must be from 1 to 100"),
        ({"count": 101}, "count must be from 1 to 100"),
        ({"interval": 0}, "interval must be from 1ms to 60s"),
        ({"max_loss_pct": 100}, "max_loss_pct must be from 0 to 99.9"),
    ],
)
def test_options_out_of_bounds(options: dict[str, float], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        IcmpOptions(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url", ["icmp://host:7", "icmp://host/path", "icmp://host?x=1", "icmp://", "icmp://u@host"]
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="icmp://"):
        parse_icmp_url(url)
