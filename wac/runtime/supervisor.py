"""Child supervision: several wac processes run as one (`wac up`, `wac monitor --workers`).

`Supervisor.run` starts the children and waits for them:

- each child runs in a process group of its own, so a Ctrl-C at the terminal reaches
  only the supervisor, which stops them in order; and each gets SIGTERM when the
  supervisor dies, however it dies (Linux's parent-death signal);
- SIGTERM or SIGINT stops them in order: first those that `stops_first` (a monitor, which
  flushes what it produced to Kafka), then, `drain_s` after the last of those has
  exited, the others (the consumers, which then store what was flushed);
- SIGHUP goes to the children that reload, or stops them all (`hangup_stops`: the
  terminal of `wac up` went away);
- a child that exits on its own stops the others; its exit code (1 if it was 0)
  becomes the supervisor's. After a requested stop, the supervisor exits 0 unless a
  child failed on the way out.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from wac.runtime.signals import Signals

log = logging.getLogger(__name__)

DRAIN_S = 1.0  # after the last first-stopped child exits, for the others to take its output
TICK_S = 0.1
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Child:
    name: str
    argv: Sequence[str]
    stops_first: bool = False  # stopped before the others
    reloads: bool = False  # SIGHUP is passed on to it


def die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent goes away (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the children outlive an abrupt end of their parent


class Supervisor:
    def __init__(
        self,
        children: Sequence[Child],
        *,
        label: str,
        env: Mapping[str, str] | None = None,
        drain_s: float = DRAIN_S,
        hangup_stops: bool = False,
    ) -> None:
        self.children = list(children)
        self.label = label  # how the supervisor names itself in its log lines
        self.env = dict(env) if env is not None else None
        self.drain_s = drain_s
        self.hangup_stops = hangup_stops
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._stop_requested = False
        self._others_stopped = False
        self._first_done_at: float | None = None

    def run(self) -> int:
        """Start the children, wait for all of them; the exit code."""
        try:
            for child in self.children:
                self._procs[child.name] = subprocess.Popen(
                    list(child.argv),
                    env=self.env,
                    process_group=0,
                    preexec_fn=die_with_parent,
                )
        except BaseException:
            for proc in self._procs.values():
                proc.terminate()
            raise
        reloads = any(child.reloads for child in self.children) and not self.hangup_stops
        with Signals(
            self._on_stop,
            self._on_hangup if reloads else None,
            hangup_stops=self.hangup_stops,
        ):
            return self._wait()

    def stop(self) -> None:
        """Stop the children in order (what SIGTERM does)."""
        if self._stop_requested:
            return
        self._stop_requested = True
        for child in self.children:
            if child.stops_first:
                self._signal(child.name, signal.SIGTERM)

    def _on_stop(self, signum: int) -> None:
        self.stop()

    def _on_hangup(self, signum: int) -> None:
        for child in self.children:
            if child.reloads:
                self._signal(child.name, signal.SIGHUP)

    def _signal(self, name: str, signum: int) -> None:
        proc = self._procs.get(name)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signum)

    def _wait(self) -> int:
        exit_code = 0
        ended: set[str] = set()
        while True:
            for child in self.children:
                proc = self._procs[child.name]
                code = proc.poll()
                if code is None or child.name in ended:
                    continue
                ended.add(child.name)
                if not self._stop_requested:
                    log.error(
                        "%s: %s exited with code %d; stopping the others",
                        self.label,
                        child.name,
                        code,
                    )
                    exit_code = code or 1
                    self.stop()
                elif code != 0 and exit_code == 0:
                    exit_code = code if code > 0 else 1
            if len(ended) == len(self.children):
                return exit_code
            if self._stop_requested and not self._others_stopped:
                self._stop_others_when_drained(ended)
            time.sleep(TICK_S)

    def _stop_others_when_drained(self, ended: set[str]) -> None:
        first = [c.name for c in self.children if c.stops_first]
        if not all(name in ended for name in first):
            return
        now = time.monotonic()
        if self._first_done_at is None:
            self._first_done_at = now
        if now - self._first_done_at < self.drain_s and first:
            return
        self._others_stopped = True
        for child in self.children:
            if not child.stops_first:
                self._signal(child.name, signal.SIGTERM)
