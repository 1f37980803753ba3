"""Process-wide rules for every probe: which CAs to trust, which addresses to refuse."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wac.config import parse_bool
from wac.errors import ConfigError


@dataclass(frozen=True)
class ProbePolicy:
    ca_bundle: str | None = None  # PEM file of CAs for checked sites (default: the system's)
    block_private: bool = False  # refuse targets resolving to non-public addresses


DEFAULT_POLICY = ProbePolicy()


def probe_policy(env: Mapping[str, str]) -> ProbePolicy:
    """WAC_CA_BUNDLE and WAC_BLOCK_PRIVATE_TARGETS, checked."""
    ca_bundle = env.get("WAC_CA_BUNDLE") or None
    if ca_bundle is not None and not Path(ca_bundle).is_file():
        raise ConfigError(f"WAC_CA_BUNDLE={ca_bundle!r} is not a file: give a PEM file of CA certs")
    block = parse_bool(
        env.get("WAC_BLOCK_PRIVATE_TARGETS"), "WAC_BLOCK_PRIVATE_TARGETS", default=False
    )
    return ProbePolicy(ca_bundle=ca_bundle, block_private=block)


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
