"""A reload read in a forked child process, which hands back only what changed.

Reading 100,000 targets costs more than a second of CPU, a third of it in libyaml's C
composer, which holds the GIL for the whole document: read in the monitor's process, it
would stop the check loop for that long. So `read_differences` forks: the child (a copy
of the monitor, holding the current targets) reads and checks the file, compares its
targets with the current ones, and writes back the ids removed and the targets added or
changed, pickled in chunks of `CHUNK` targets. The monitor's thread waits in `read()`,
which releases the GIL, and unpickles one chunk at a time (a few milliseconds each), so
the check loop gets the GIL back between chunks. A file that is not valid comes back as
the child's ConfigError message, word for word, and changes nothing.

The child uses no lock another thread may hold at the fork (no logging, no Kafka): it
reads, compares, writes to its pipe and ends with `os._exit`, running no exit handler of
the monitor's. The pickles come from our own child over a private pipe, nothing else.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import select
import signal
import struct
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from wac.errors import ConfigError, WacError, described
from wac.monitor.gc_pause import GC_PAUSE
from wac.targets import Target, probe_fields
from wac.yaml_config import shown

CHUNK = 1000  # targets per pickle: a few milliseconds of the GIL to unpickle
# The child yields the CPU to the monitor's threads when the cores are busy: a reload may
# take longer, the checks stay on time.
CHILD_NICENESS = 5
DEADLINE_S = 300.0  # a child that takes longer is killed and the reload fails
_LENGTH = struct.Struct("!Q")
_READ_SIZE = 1 << 20


@dataclass(frozen=True)
class Differences:
    """What a reload changes: targets added or changed, ids removed."""

    upsert: list[Target]
    remove: list[str]
    count: int  # targets in the file
    read_s: float  # how long the child took to read and compare


class ReloadError(WacError):
    """The child failed unexpectedly (a bug, or it was killed): the message says how."""


def read_differences(
    load_targets: Callable[[], list[Target]],
    current: Mapping[str, Target],
    *,
    deadline_s: float = DEADLINE_S,
) -> Differences:
    """The differences between `current` and what `load_targets()` returns, computed in a
    forked child. Raises the child's ConfigError (the same message) for a bad file, and
    ReloadError when the child fails otherwise."""
    return _read_differences(load_targets, current, deadline_s)


def _read_differences(
    load_targets: Callable[[], list[Target]], current: Mapping[str, Target], deadline_s: float
) -> Differences:
    readable, writable = os.pipe()
    try:
        with warnings.catch_warnings():  # (3.12: "multi-threaded, fork() may deadlock")
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError:  # no process to be had (a pids limit, no memory): nothing kept open
        os.close(readable)
        os.close(writable)
        raise
    if pid == 0:  # pragma: no cover - the child, measured through the parent's view
        os.close(readable)
        _child(writable, load_targets, current)
    os.close(writable)
    _reading.add(pid)
    try:
        return _receive(readable, pid, deadline_s)
    finally:
        _reading.discard(pid)
        _stopped.discard(pid)
        os.close(readable)
        _reap(pid)
        _reaped.pop(pid, None)


_reading: set[int] = set()  # the children reading a file now
_stopped: set[int] = set()  # those stopped by `stop_readers`


def stop_readers() -> None:
    """Stop the children still reading (the monitor is stopping): their reloads fail."""
    for pid in list(_reading):
        _stopped.add(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _child(
    out: int, load_targets: Callable[[], list[Target]], current: Mapping[str, Target]
) -> None:  # pragma: no cover - runs in the child
    code = 0
    try:
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)  # the monitor's handlers only set flags
        gc.disable()  # a short life: nothing to collect
        probe_fields.pairs_checked_later = True  # no OpenSSL here: see _check_pairs
        with contextlib.suppress(OSError):
            os.nice(CHILD_NICENESS)
        started = time.monotonic()
        try:
            targets = load_targets()
        except ConfigError as exc:
            _write(out, ("config", str(exc)))
            return
        except Exception as exc:
            _write(out, ("unexpected", f"unexpected {described(exc)}"))
            return
        wanted = {t.id: t for t in targets}
        removed = [target_id for target_id in current if target_id not in wanted]
        upsert = [t for t in targets if current.get(t.id) != t]
        chunks = [upsert[i : i + CHUNK] for i in range(0, len(upsert), CHUNK)]
        _write(out, ("ok", len(wanted), removed, len(chunks), time.monotonic() - started))
        for chunk in chunks:
            _write(out, chunk)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _write(out: int, value: object) -> None:  # pragma: no cover - runs in the child
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(out, view) :]


class _Frames:
    """Length-prefixed pickles read from the child's pipe, one at a time."""

    def __init__(self, readable: int, deadline: float) -> None:
        self._fd = readable
        self._deadline = deadline
        self._buffer = bytearray()
        # poll, not select: past 1,023 checks in flight the pipe's descriptor is over
        # what select() takes.
        self._poll = select.poll()
        self._poll.register(readable, select.POLLIN)

    def _fill(self, size: int) -> bool:
        """At least `size` bytes buffered; False at the end of the pipe."""
        while len(self._buffer) < size:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if not self._poll.poll(left * 1000):
                continue
            data = os.read(self._fd, _READ_SIZE)
            if not data:
                return False
            self._buffer += data
        return True

    def next(self) -> object | None:
        """The next pickled value; None at the end of the pipe."""
        if not self._fill(_LENGTH.size):
            return None
        (length,) = _LENGTH.unpack_from(self._buffer)
        if not self._fill(_LENGTH.size + length):
            return None
        data = bytes(self._buffer[_LENGTH.size : _LENGTH.size + length])
        del self._buffer[: _LENGTH.size + length]
        return pickle.loads(data)  # noqa: S301 - from our own forked child


def _receive(readable: int, pid: int, deadline_s: float) -> Differences:
    frames = _Frames(readable, time.monotonic() + deadline_s)
    try:
        head = frames.next()
        if not isinstance(head, tuple) or not head:
            raise ReloadError(_ended_how(pid, "without an answer"))
        if head[0] == "config":
            raise ConfigError(str(head[1]))
        if head[0] != "ok":
            raise ReloadError(str(head[1]))
        _, count, removed, chunks, read_s = head
        upsert: list[Target] = []
        # The collector held off while the changes are unpickled (100,000 targets would
        # set off full collections), not while the child reads.
        with GC_PAUSE.held():
            for _ in range(chunks):
                chunk = frames.next()
                if not isinstance(chunk, list):
                    raise ReloadError(_ended_how(pid, "before all its changes were read"))
                upsert.extend(chunk)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        raise ReloadError(
            f"reading the file took over {deadline_s:.0f} s: the child reading it was stopped"
        ) from None
    _check_pairs(upsert)
    return Differences(upsert=upsert, remove=list(removed), count=count, read_s=read_s)


def _check_pairs(upsert: list[Target]) -> None:
    """The client certificates and keys of the new or changed targets load (what the
    child skipped); ConfigError naming the first that does not, as a bad file."""
    for target in upsert:
        if target.client_cert is not None:
            where = f"target {shown(target.id)}"
            probe_fields.check_client_pair(target.client_cert, target.client_key, where)


def _ended_how(pid: int, when: str) -> str:
    status = _reap(pid)
    if pid in _stopped:
        return "abandoned: the monitor is stopping"
    if status is not None and os.WIFSIGNALED(status):
        how = f"was killed by signal {os.WTERMSIG(status)}"
    elif status is not None:
        how = f"ended with exit status {os.waitstatus_to_exitcode(status)}"
    else:
        how = "ended"
    return f"the process reading the file {how} {when}"


_reaped: dict[int, int] = {}


def _reap(pid: int) -> int | None:
    """The child's wait status (it is waited for once; later calls repeat it)."""
    if pid in _reaped:
        return _reaped[pid]
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return None
    _reaped[pid] = status
    return status
