import pytest

from wac.errors import ConfigError
from wac.probes.policy import is_public_address, probe_policy


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1%eth0",
        "fc00::1",
        "::ffff:10.0.0.1",
        "not an address",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


def test_policy_from_environment(tmp_path) -> None:
    assert not probe_policy({}).block_private
    assert probe_policy({"WAC_BLOCK_PRIVATE_TARGETS": "true"}).block_private
    with pytest.raises(ConfigError, match="WAC_BLOCK_PRIVATE_TARGETS"):
        probe_policy({"WAC_BLOCK_PRIVATE_TARGETS": "sometimes"})
    with pytest.raises(ConfigError, match="WAC_CA_BUNDLE"):
        probe_policy({"WAC_CA_BUNDLE": str(tmp_path / "missing.pem")})
