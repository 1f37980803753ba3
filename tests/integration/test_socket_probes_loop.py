"""The tcp, tls, dns and icmp probes driven by the monitor's real check loop, beside HTTP:
one loop, every scheme, results on schedule; one helper thread runs all four."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from tests.support.dns_server import dns_server
from tests.support.probes import assert_valid
from tests.support.processes import wait_for
from tests.support.servers import echo_server, free_port, local_ca, tls_site
from wac.monitor.loop import CheckLoop
from wac.probes import registry
from wac.probes.dns import DnsOptions
from wac.probes.policy import ProbePolicy
from wac.probes.tcp import TcpOptions
from wac.result import CheckResult
from wac.targets import Target


def run_loop(
    targets: list[Target], until: Callable[[list[CheckResult]], bool], policy: ProbePolicy
) -> list[CheckResult]:
    results: list[CheckResult] = []
    loop = CheckLoop(results.append, monitor="loop-probes", max_in_flight=50, policy=policy)
    loop.set_targets(targets)
    threads_before = {t.name for t in threading.enumerate()}
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        wait_for(lambda: until(results), 30, "checks of every target")
        helpers = [t for t in threading.enumerate() if t.name == "probes-asyncio"]
        assert len(helpers) - ("probes-asyncio" in threads_before) == 1
    finally:
        loop.stop()
        thread.join(10)
    assert not thread.is_alive()
    return list(results)


def test_every_probe_in_one_check_loop(site: str) -> None:
    assert registry.factory_for("tcp") is registry.factory_for("icmp")  # one prober
    with (
        echo_server() as echo,
        dns_server() as dns,
        tls_site("good") as (https, _),
    ):
        tls_port = https.rsplit(":", 1)[1]
        targets = [
            Target(url=f"{site}/ok", id="http", interval=0.2),
            Target(
                url=f"tcp://127.0.0.1:{echo}",
                id="tcp",
                interval=0.2,
                probe_options=TcpOptions(send="hi\n", expect="hi"),
            ),
            Target(url=f"tcp://127.0.0.1:{free_port()}", id="tcp-closed", interval=0.2),
            Target(url=f"tls://localhost:{tls_port}", id="tls", interval=0.2),
            Target(
                url=f"dns://{dns.server}/www.test?type=MX",
                id="dns",
                interval=0.2,
                probe_options=DnsOptions(expect="mail"),
            ),
            Target(url=f"dns://{dns.server}/nxdomain.test", id="dns-nx", interval=0.2),
            Target(url="icmp://127.0.0.1", id="icmp", interval=0.2),
        ]
        ids = [t.id for t in targets]
        results = run_loop(
            targets,
            lambda rs: all(Counter(r.target for r in rs)[i] >= 3 for i in ids),
            ProbePolicy(ca_bundle=str(local_ca().bundle)),
        )
    by_target: dict[str, list[CheckResult]] = {}
    for result in results:
        assert_valid(result)
        by_target.setdefault(result.target, []).append(result)
    expected = {
        "http": (None, None),
        "tcp": ("tcp", None),
        "tcp-closed": ("tcp", "connect"),
        "tls": ("tls", None),
        "dns": ("dns", None),
        "dns-nx": ("dns", "dns"),
        "icmp": ("icmp", None),
    }
    for target, (probe, kind) in expected.items():
        for result in by_target[target]:
            assert result.probe == probe and result.monitor == "loop-probes"
            assert (result.error.kind if result.error else None) == kind, (target, result.error)


def test_a_monitor_of_http_targets_only_never_loads_the_socket_probes(site: str) -> None:
    """dnspython and the TLS helpers (about 13 MB a process) come with the first target
    of tcp, tls, dns or icmp, not with the registry."""
    import subprocess
    import sys

    script = f"""
import sys
from wac.probes.once import run_checks
from wac.targets import Target
assert run_checks([Target(url="{site}/ok", id="a")], "m")[0].ok
assert "dns" not in sys.modules and "wac.probes.tcp" not in sys.modules, "loaded early"
run_checks([Target(url="tcp://127.0.0.1:1", id="b")], "m")
assert "dns" in sys.modules and "wac.probes.tcp" in sys.modules
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
