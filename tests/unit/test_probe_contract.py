"""The probe contract: a prober registered for a scheme is driven by the check loop end to end.

The probers here are in-process test probers (no network): one written as a `ProbeFn`
(a coroutine run by an `AsyncProber` on its helper thread, which wakes the loop), one
that watches a descriptor of its own in the loop's reactor (as the HTTP prober does with
libcurl's sockets). The loop names neither: the registry finds them by URL scheme.
"""

from __future__ import annotations

import asyncio
import os
import select
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from tests.support.processes import wait_for
from wac.monitor.loop import CheckLoop
from wac.probes import registry
from wac.probes.contract import Completion, ProbeContext
from wac.probes.once import run_checks
from wac.result import CheckError, CheckResult, Phases, new_check_id, utc_now
from wac.targets import Target


def made_up_result(target: Target, context: ProbeContext, *, ok: bool = True) -> CheckResult:
    return CheckResult(
        v=1,
        id=new_check_id(),
        target=target.id,
        url=target.public_url,
        monitor=context.monitor,
        checked_at=utc_now(),
        ok=ok,
        status_code=None,
        response_time_ms=1.0,
        phases=Phases(),
        pattern=None,
        pattern_matched=None,
        tls_expires_at=None,
        error=None if ok else CheckError("connect", "made up"),
    )


async def fake_probe(target: Target, context: ProbeContext) -> CheckResult:
    """The whole protocol of `fake://`: a little wait, then up, unless the host says down."""
    await asyncio.sleep(0.01)
    if "raise" in target.url:
        raise ConnectionError("the fake protocol failed")
    return made_up_result(target, context, ok="down" not in target.url)


class PipeProber:
    """`pipe://` checks end when a byte arrives on a pipe watched in the loop's reactor."""

    def __init__(self, context: ProbeContext) -> None:
        self.context = context
        self.read_fd, self.write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.waiting: list[tuple[Target, object]] = []
        self.done: list[Completion] = []
        self.closed = False
        self.lock = threading.Lock()  # no answer written once closed
        context.reactor.watch(self.read_fd, select.EPOLLIN, self.on_ready)

    def start(self, target: Target, token: object) -> None:
        if "refuse" in target.url:
            raise ValueError("this target cannot be checked")
        self.waiting.append((target, token))
        # Another thread answers a little later, as a server would.
        threading.Timer(0.01, self.answer).start()

    def answer(self) -> None:
        with self.lock:
            if not self.closed:
                os.write(self.write_fd, b"x")

    def on_ready(self, fd: int, mask: int) -> None:
        os.read(fd, 1)
        target, token = self.waiting.pop(0)
        self.done.append((token, made_up_result(target, self.context)))

    def timeout(self) -> float | None:
        return None

    def collect(self) -> list[Completion]:
        done, self.done = self.done, []
        return done

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.context.reactor.unwatch(self.read_fd)
            os.close(self.read_fd)
            os.close(self.write_fd)


@pytest.fixture
def made_probers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[PipeProber]]:
    """`fake://` and `fake2://` (one ProbeFn), `pipe://` registered for this test only."""
    monkeypatch.setattr(registry, "PROBERS", dict(registry.PROBERS))
    registry.register_probe_fn(fake_probe, "fake", "fake2")
    made: list[PipeProber] = []

    def pipe_prober(context: ProbeContext) -> PipeProber:
        made.append(PipeProber(context))
        return made[-1]

    registry.register(pipe_prober, "pipe")
    yield made


def run_loop(targets: list[Target], until: Callable[[list[CheckResult]], bool]) -> CheckLoop:
    results: list[CheckResult] = []
    loop = CheckLoop(results.append, monitor="contract-test", max_in_flight=10)
    loop.results = results  # type: ignore[attr-defined]
    loop.set_targets(targets)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        wait_for(lambda: until(results), 20, "the checks of every target")
    finally:
        loop.stop()
        thread.join(10)
    assert not thread.is_alive()
    return loop


def test_the_loop_drives_registered_probers_by_scheme(made_probers: list[PipeProber]) -> None:
    targets = [
        Target(url="fake://up/", id="up", interval=0.1),
        Target(url="FAKE2://down/", id="down", interval=0.1),
        Target(url="pipe://answers/", id="piped", interval=0.1),
    ]

    def enough(results: list[CheckResult]) -> bool:
        return all(Counter(r.target for r in results)[t.id] >= 3 for t in targets)

    loop = run_loop(targets, enough)
    results: list[CheckResult] = loop.results  # type: ignore[attr-defined]
    by_target = {t.id: [r for r in results if r.target == t.id] for t in targets}
    assert all(r.ok for r in by_target["up"] + by_target["piped"])
    assert all(not r.ok and r.error is not None for r in by_target["down"])
    assert {r.monitor for r in results} == {"contract-test"}
    assert len(made_probers) == 1 and made_probers[0].closed  # made once, closed by the loop
    stats = loop.stats
    assert stats.started == stats.finished + stats.in_flight
    assert stats.lateness.count == stats.started


def test_a_prober_that_raises_costs_that_target_its_results_only(
    made_probers: list[PipeProber], caplog: pytest.LogCaptureFixture
) -> None:
    targets = [
        Target(url="fake://up/", id="up", interval=0.1),
        Target(url="fake://raise/", id="raises", interval=0.1),
        Target(url="pipe://refuse/", id="refused", interval=0.1),
        Target(url="nope://anything/", id="no-prober", interval=0.1),
    ]

    def enough(results: list[CheckResult]) -> bool:
        return all(Counter(r.target for r in results)[t.id] >= 3 for t in targets)

    loop = run_loop(targets, enough)
    results: list[CheckResult] = loop.results  # type: ignore[attr-defined]
    messages = {r.target: r.error.message for r in results if r.error is not None}
    assert all(r.ok for r in results if r.target == "up")
    assert all(r.error.kind == "other" for r in results if r.error is not None)
    assert messages["raises"] == (
        "the check could not finish: ConnectionError: the fake protocol failed"
    )
    assert messages["refused"] == (
        "the check could not start: ValueError: this target cannot be checked"
    )
    assert messages["no-prober"].startswith(
        "the check could not start: NoProber: no probe for nope:// URLs (wac checks "
    )
    logged = [r.getMessage() for r in caplog.records if "logged once per target" in r.getMessage()]
    assert sorted(line.split(":")[0] for line in logged) == [
        "check of no-prober",
        "check of raises",
        "check of refused",
    ]


def test_run_checks_uses_the_same_probers(made_probers: list[PipeProber]) -> None:
    targets = [
        Target(url="pipe://a/", id="a"),
        Target(url="fake://b/", id="b"),
        Target(url="fake://raise/", id="c"),
        Target(url="pipe://refuse/", id="d"),
    ]
    started = time.monotonic()
    results = run_checks(targets, "once")
    assert time.monotonic() - started < 5
    assert [r.target for r in results] == ["a", "b", "c", "d"]
    assert results[0].ok and results[1].ok
    assert results[2].error is not None and results[2].error.kind == "other"
    assert results[3].error is not None and "could not start" in results[3].error.message


def test_closing_an_async_prober_lets_the_checks_in_flight_clean_up() -> None:
    """`close()` cancels the checks in flight and lets their `finally` blocks run (the
    socket probes close their sockets there) before the helper thread ends."""
    from wac.probes.offloop import AsyncProber
    from wac.probes.policy import DEFAULT_POLICY
    from wac.probes.reactor import EpollReactor

    started, cleaned = threading.Event(), threading.Event()

    async def slow_probe(target: Target, context: ProbeContext) -> CheckResult:
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.set()
        return made_up_result(target, context)

    reactor = EpollReactor()
    context = ProbeContext("m", DEFAULT_POLICY, reactor, max_in_flight=10)
    prober = AsyncProber(context, {"slow": slow_probe})
    try:
        prober.start(Target(url="slow://a/", id="a"), "token")
        with pytest.raises(KeyError):
            prober.start(Target(url="other://a/", id="b"), "token")  # not its scheme
        assert started.wait(5)
        begun = time.monotonic()
        prober.close()
        assert time.monotonic() - begun < 3
        assert cleaned.is_set()
        assert prober.collect() == []  # an abandoned check gives nothing
    finally:
        reactor.close()
