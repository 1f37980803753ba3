"""Which prober checks a URL: a registry keyed by URL scheme.

`PROBERS` maps a scheme (`http`, `https`, …) to the factory of its prober
(`wac.probes.contract.ProberFactory`). Schemes that share a factory share one prober
per check loop (HTTP and HTTPS share the curl engine). A protocol module registers
itself here; the check loop and `wac check` only ever call `factory_for`.

Which schemes a targets file may use is the loader's decision (`wac.targets`): a URL of
any other scheme is refused at load, with exit code 2, before a check loop sees it.
"""

from __future__ import annotations

from wac.errors import WacError
from wac.probes.contract import ProbeFn, ProberFactory
from wac.probes.curl import HttpProber
from wac.probes.offloop import async_prober

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
    factory = async_prober(probe)
    register(factory, *schemes)
    return factory


def factory_for(scheme: str) -> ProberFactory:
    """The factory of the prober for `scheme`; NoProber when there is none."""
    try:
        return PROBERS[scheme]
    except KeyError:
        known = ", ".join(f"{s}://" for s in sorted(PROBERS))
        raise NoProber(f"no probe for {scheme}:// URLs (wac checks {known})") from None
