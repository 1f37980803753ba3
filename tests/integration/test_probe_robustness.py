"""A target that cannot be checked costs its own results, never the loop (local sites).

The targets here are built directly, bypassing the loader's bounds, as a bug or a
future setting could: the probe must still turn each into a result.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections import Counter
from typing import Any, cast

import pytest

from wac.monitor.loop import CheckLoop
from wac.patterns import compile_body_pattern
from wac.probes.once import run_checks
from wac.result import CheckResult, decode, encode
from wac.targets import Target, target_from_url


def broken_targets(site: str) -> list[Target]:
    base = Target(url=f"{site}/ok", id="base", interval=0.1, timeout=1)
    return [
        dataclasses.replace(base, id="nul-in-url", url=f"{site}/ok\x00"),
        dataclasses.replace(base, id="latin-header", headers=(("X-Name", "caf\u00e9"),)),
        dataclasses.replace(base, id="infinite-timeout", timeout=float("inf")),
        dataclasses.replace(base, id="huge-redirects", max_redirects=10**30),
    ]


class ExplodingPattern:
    text = "boom"

    def found(self, body: bytes) -> bool:
        raise RuntimeError("the pattern engine failed")


def run_loop(targets: list[Target], seconds: float) -> list[CheckResult]:
    results: list[CheckResult] = []
    loop = CheckLoop(results.append, monitor="robustness", max_in_flight=20)
    loop.set_targets(targets)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        time.sleep(seconds)
    finally:
        loop.stop()
        thread.join(10)
    assert not thread.is_alive()
    return results


def test_a_check_that_cannot_start_is_a_result_of_kind_other(
    site: str, caplog: pytest.LogCaptureFixture
) -> None:
    bystander = target_from_url(f"{site}/ok?bystander", interval=0.1, timeout=1)
    broken = broken_targets(site)
    exploding = Target(
        url=f"{site}/ok?exploding",
        id="exploding-pattern",
        interval=0.1,
        timeout=1,
        pattern="boom",
        compiled_pattern=cast(Any, ExplodingPattern()),
    )
    with caplog.at_level(logging.INFO):
        results = run_loop([bystander, *broken, exploding], 2.0)
    counts = Counter(r.target for r in results)
    assert counts[bystander.id] >= 8, counts  # every 0.1 s for 2 s, on a busy machine
    assert all(r.ok for r in results if r.target == bystander.id)
    for target in [*broken, exploding]:
        mine = [r for r in results if r.target == target.id]
        assert len(mine) >= 5, (target.id, counts)  # on its schedule, like the others
        for result in mine:
            assert not result.ok and result.error is not None and result.error.kind == "other"
            assert decode(encode(result)) == result  # a valid v1 message
    by_id = {r.target: r.error.message for r in results if r.error is not None}
    assert by_id["nul-in-url"].startswith("the check could not start: ValueError: embedded null")
    assert "UnicodeEncodeError" in by_id["latin-header"]
    assert "OverflowError" in by_id["infinite-timeout"]
    assert "OverflowError" in by_id["huge-redirects"]
    assert by_id["exploding-pattern"] == (
        "the pattern could not be looked for: RuntimeError: the pattern engine failed"
    )
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not any(r.exc_info for r in errors), "no traceback per check"
    logged_start = [r for r in errors if "could not start" in r.getMessage()]
    assert sorted(r.getMessage().split(":")[0] for r in logged_start) == sorted(
        f"check of {t.id}" for t in broken
    ), "one line per target, not per check"


def test_wac_check_driver_gives_a_result_for_a_target_that_cannot_start(site: str) -> None:
    broken = broken_targets(site)
    good = target_from_url(f"{site}/ok", interval=10, timeout=1)
    results = run_checks([broken[0], good, *broken[1:]], "checker")
    assert [r.target for r in results] == [broken[0].id, good.id, *(t.id for t in broken[1:])]
    assert results[1].ok
    assert all(
        r.error is not None and r.error.kind == "other" for r in results if r is not results[1]
    )


def test_a_slow_pattern_never_holds_the_other_targets(site: str) -> None:
    """RE2 is linear, but `\\pL{100}zz` costs about half a second per MiB: matched in the
    check loop, an 8 MiB body would stop every other target for seconds."""
    pattern = r"\pL{100}zz"
    body_size = 8 * 1024 * 1024
    started = time.perf_counter()
    assert not compile_body_pattern(pattern).found(b"a" * body_size)
    match_seconds = time.perf_counter() - started
    assert match_seconds > 1.5, "the premise: one match takes seconds"

    slow = dataclasses.replace(
        target_from_url(f"{site}/big/{body_size}", interval=0.1, timeout=10, pattern=pattern),
        max_body_bytes=2 * body_size,
    )
    bystander = target_from_url(f"{site}/ok?beside-slow-pattern", interval=0.1, timeout=1)
    results = run_loop([slow, bystander], max(4.0, 1.5 * match_seconds + 1))
    slow_results = [r for r in results if r.target == slow.id]
    assert slow_results, "the slow pattern's target gets results too"
    assert all(r.error is not None and r.error.kind == "pattern" for r in slow_results)
    assert all(r.pattern_matched is False for r in slow_results)
    times = sorted(r.checked_at.timestamp() for r in results if r.target == bystander.id)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) >= 20 and max(gaps) < 1.0, (len(times), max(gaps), match_seconds)


def test_catastrophic_pattern_on_the_forty_a_page(site: str) -> None:
    target = target_from_url(f"{site}/forty-a", interval=10, timeout=2, pattern="(a+)+$")
    started = time.perf_counter()
    (result,) = run_checks([target], "checker")
    assert time.perf_counter() - started < 2.0
    assert result.pattern_matched is False and result.error is not None
    assert result.error.kind == "pattern"
