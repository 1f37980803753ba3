"""Signals, one way: SIGTERM/SIGINT stop, SIGHUP reloads (or stops), handlers restored."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

from wac.runtime.signals import Signals


def _wait(event: threading.Event) -> bool:
    return event.wait(5)


def test_sigterm_and_sigint_set_stop_and_call_back_outside_the_handler() -> None:
    calls: list[tuple[int, str]] = []
    called = threading.Event()

    def on_stop(signum: int) -> None:
        calls.append((signum, threading.current_thread().name))
        called.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        calls.clear()
        called.clear()
        with Signals(on_stop) as signals:
            os.kill(os.getpid(), signum)
            assert _wait(signals.stop) and _wait(called)
        assert calls == [(signum, "signals")]  # the context's thread, not the main one


def test_sighup_reloads_a_service_that_reloads_and_is_left_alone_otherwise() -> None:
    reloads: list[int] = []
    with Signals(on_reload=reloads.append) as signals:
        os.kill(os.getpid(), signal.SIGHUP)
        assert _wait(signals.reload)
        assert not signals.stop.is_set()
    assert reloads == [signal.SIGHUP]
    before = signal.getsignal(signal.SIGHUP)
    with Signals():
        assert signal.getsignal(signal.SIGHUP) is before  # not taken: no reload here


def test_sighup_stops_where_a_hang_up_means_stop() -> None:
    with Signals(hangup_stops=True) as signals:
        os.kill(os.getpid(), signal.SIGHUP)
        assert _wait(signals.stop)
        assert not signals.reload.is_set()


def test_the_previous_handlers_come_back_on_exit() -> None:
    mine: Callable[[int, object], None] = lambda signum, frame: None  # noqa: E731
    previous = {s: signal.signal(s, mine) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        with Signals(reloads=True):
            assert signal.getsignal(signal.SIGTERM) is not mine
        assert all(signal.getsignal(s) is mine for s in previous)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_a_failing_callback_leaves_the_next_signal_served() -> None:
    seen: list[int] = []
    second = threading.Event()

    def on_stop(signum: int) -> None:
        seen.append(signum)
        if len(seen) == 1:
            raise RuntimeError("boom")
        second.set()

    with Signals(on_stop):
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        assert _wait(second)
    assert seen == [signal.SIGTERM, signal.SIGINT]


def test_outside_the_main_thread_nothing_is_installed() -> None:
    before = signal.getsignal(signal.SIGTERM)
    seen: list[object] = []

    def body() -> None:
        with Signals(reloads=True) as signals:
            seen.append(signal.getsignal(signal.SIGTERM))
            signals.dispatch(signal.SIGTERM)  # what a stop would do
            seen.append(signals.stop.is_set())

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [before, True]
