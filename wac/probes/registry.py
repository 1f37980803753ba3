"""Which prober checks a URL: a registry keyed by URL scheme.

`PROBERS` maps a scheme (`http`, `https`, `tcp`, `tls`, `dns`, `icmp`) to the factory
of its prober (`wac.probes.contract.ProberFactory`). Schemes that share a factory share
one prober per check loop (HTTP and HTTPS share the curl engine; tcp, tls, dns and icmp
share one `AsyncProber`). A protocol module is registered here; the check loop and
`wac check` only ever call `factory_for`.

Which schemes a targets file may use is the loader's decision (`wac.targets`): a URL of
any other scheme is refused at load, with exit code 2, before a check loop sees it.
"""

from __future__ import annotations

from collections.abc import Mapping

from wac.errors import WacError
from wac.probes.contract import ProbeContext, ProbeFn, Prober, ProberFactory
from wac.probes.curl import HttpProber
from wac.probes.offloop import AsyncProber, async_prober

PROBERS: dict[str, ProberFactory] = {
    "http": HttpProber,
    "https": HttpProber,
}


class NoProber(WacError):
    """A target whose URL scheme has no prober."""


def register(factory: ProberFactory, *schemes: str) -> None:
    """Let `factory`'s prober check the URLs of `schemes`."""
    for scheme in schemes:
        PROBERS[scheme] = factory


def register_probe_fn(probe: ProbeFn, *schemes: str) -> ProberFactory:
    """Register a coroutine that checks one target (run by an `AsyncProber`)."""
    return register_probe_fns(dict.fromkeys(schemes, probe))


def register_probe_fns(probes: Mapping[str, ProbeFn]) -> ProberFactory:
    """Register coroutines by scheme, run by one `AsyncProber` (one helper thread)."""
    factory = async_prober(dict(probes))
    register(factory, *probes)
    return factory


def factory_for(scheme: str) -> ProberFactory:
    """The factory of the prober for `scheme`; NoProber when there is none."""
    try:
        return PROBERS[scheme]
    except KeyError:
        known = ", ".join(f"{s}://" for s in sorted(PROBERS))
        raise NoProber(f"no probe for {scheme}:// URLs (wac checks {known})") from None


def socket_prober(context: ProbeContext) -> Prober:
    """The one `AsyncProber` (one helper thread) of the tcp, tls, dns and icmp ProbeFns.

    Made with the first target of any of them: their modules (dnspython, the TLS
    helpers, about 13 MB a process) are imported then, so that a monitor of HTTP
    targets only never loads them.
    """
    from wac.probes.dns import probe_dns
    from wac.probes.icmp import probe_icmp
    from wac.probes.tcp import probe_tcp
    from wac.probes.tls import probe_tls

    probes = {"tcp": probe_tcp, "tls": probe_tls, "dns": probe_dns, "icmp": probe_icmp}
    return AsyncProber(context, probes)


register(socket_prober, "tcp", "tls", "dns", "icmp")
