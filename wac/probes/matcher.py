"""Looking for patterns in bodies, and judging `assert:` conditions on them (JSON
paths included), off the check loop's thread.

RE2 takes time linear in the body, but the constant depends on the pattern: a legal
pattern such as `\\pL{100}x` costs about half a second per MiB, and a body may be up
to `max_body_size`. Matched in the check loop, such a target would hold every other
target's checks. Here a few daemon threads match (RE2 releases the GIL while it
does), and hand each finished result back to the loop, which wakes up for it. A
target's next check still waits for its result (the scheduler keeps it in flight),
so one slow pattern occupies at most one thread and never piles up.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

import msgspec

from wac.probes.failure import describe_failure
from wac.probes.handoff import Handoff
from wac.probes.http import Response, judge_response
from wac.result import CheckError, CheckResult
from wac.targets import Target

log = logging.getLogger(__name__)

DEFAULT_THREADS = 2

_Job = tuple[object, CheckResult, Target, Response]


class PatternMatcher:
    """`submit` a result and its body; `take_done` the results with the verdict applied."""

    def __init__(self, wake: Callable[[], None], *, threads: int = DEFAULT_THREADS) -> None:
        self._threads = threads
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # `wake` is called from the matching threads when a result is ready.
        self._done: Handoff[tuple[object, CheckResult]] = Handoff(wake)
        self._started: list[threading.Thread] = []

    def submit(
        self, token: object, result: CheckResult, target: Target, response: Response
    ) -> None:
        if not self._started:
            for n in range(self._threads):
                thread = threading.Thread(target=self._work, name=f"pattern-{n}", daemon=True)
                thread.start()
                self._started.append(thread)
        self._jobs.put((token, result, target, response))

    def take_done(self) -> list[tuple[object, CheckResult]]:
        """The finished results so far (token, result), without waiting."""
        return self._done.take()

    def close(self) -> None:
        """Let the threads end after their current match (matches left are abandoned)."""
        for _ in self._started:
            self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            token, result, target, response = job
            try:
                final = judge_response(result, target, response)
            except Exception as exc:  # a bug: cost this result, never the thread
                message = describe_failure(target, "the pattern could not be looked for", exc)
                log.error("check of %s: %s", target.id, message)
                final = msgspec.structs.replace(
                    result, ok=False, error=CheckError("other", message)
                )
            self._done.put((token, final))
