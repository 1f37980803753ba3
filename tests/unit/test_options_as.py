"""A target's probe options, checked for their kind in one place (options_as)."""

from __future__ import annotations

import pytest

from wac.targets.options import IcmpOptions, PushOptions, TcpOptions, options_as


def test_absent_options_give_the_default_and_options_of_the_kind_themselves() -> None:
    default = TcpOptions()
    assert options_as(None, TcpOptions, default, "tcp") is default
    given = TcpOptions(tls=True)
    assert options_as(given, TcpOptions, default, "tcp") is given


def test_options_of_another_kind_or_missing_without_a_default_are_refused() -> None:
    with pytest.raises(TypeError, match=r"^a tcp target takes TcpOptions, not IcmpOptions$"):
        options_as(IcmpOptions(), TcpOptions, TcpOptions(), "tcp")
    with pytest.raises(TypeError, match=r"^an icmp target takes IcmpOptions, not TcpOptions$"):
        options_as(TcpOptions(), IcmpOptions, IcmpOptions(), "icmp")
    with pytest.raises(TypeError, match=r"^a push target takes PushOptions, not NoneType$"):
        options_as(None, PushOptions, None, "push")
