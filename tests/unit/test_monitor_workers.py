"""How many processes `wac monitor` runs without --workers."""

from __future__ import annotations

import pytest

from wac.commands.monitor import AUTO_MAX_WORKERS, _default_workers
from wac.targets import Target, target_from_url


def many(count: int) -> list[Target]:
    return [
        target_from_url(f"http://127.0.0.1/?n={i}", interval=10, timeout=1) for i in range(count)
    ]


@pytest.mark.parametrize(
    ("cores", "targets", "expected"),
    [
        (2, 1, 1),  # a handful of targets: one process
        (2, 1999, 1),
        (2, 2000, 2),  # one per core once each has 1,000 targets
        (2, 100_000, 2),
        (64, 100_000, AUTO_MAX_WORKERS),
        (None, 5000, 1),  # cores unknown: one
    ],
)
def test_one_process_per_core_but_not_for_a_short_list(
    monkeypatch: pytest.MonkeyPatch, cores: int | None, targets: int, expected: int
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert _default_workers(many(targets), fleet=False) == expected


def test_a_fleet_member_is_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert _default_workers([], fleet=True) == 1
