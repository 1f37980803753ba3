"""Process-wide rules for every probe: which CAs to trust, which addresses to refuse."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from wac.settings import variables


@dataclass(frozen=True)
class ProbePolicy:
    ca_bundle: str | None = None  # PEM file of CAs for checked sites (default: the system's)
    block_private: bool = False  # refuse targets resolving to non-public addresses


DEFAULT_POLICY = ProbePolicy()


def probe_policy(env: Mapping[str, str]) -> ProbePolicy:
    """WAC_CA_BUNDLE and WAC_BLOCK_PRIVATE_TARGETS, checked."""
    ca_bundle = variables.WAC_CA_BUNDLE.read(env)
    return ProbePolicy(
        ca_bundle=str(ca_bundle) if ca_bundle is not None else None,
        block_private=variables.WAC_BLOCK_PRIVATE_TARGETS.read(env),
    )


def is_public_address(text: str) -> bool:
    """False for loopback, private, link-local, CGNAT, multicast and other special ranges.

    IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) are judged by their IPv4 address.
    """
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast
