"""The check loop's one wait: an epoll object for the probers' descriptors, plus an eventfd.

Probers watch their sockets here (libcurl's, through the HTTP prober), each with the
handler to call when it is ready; other threads (a pattern matcher, a prober that runs
its checks in a helper thread, `set_targets`, `stop`) call `wake()`, which writes the
eventfd so that a `wait` in progress returns at once. epoll scales to thousands of
descriptors in flight (unlike `select()`, which stops at descriptor 1024) and costs
one call per ready descriptor.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time

from wac.probes.contract import ReadyHandler


class EpollReactor:
    """One epoll object and one eventfd; `wait` from one thread, `wake` from any."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._wake_fd, select.EPOLLIN)
        self._masks: dict[int, int] = {}  # fd -> epoll mask watched
        self._handlers: dict[int, ReadyHandler] = {}
        self._closed = False
        self._wake_lock = threading.Lock()

    def watch(self, fd: int, events: int, handler: ReadyHandler) -> None:
        old = self._masks.get(fd)
        if old == events:
            return  # the same owner (an unwatched descriptor has no mask)
        self._handlers[fd] = handler
        epoll = self._epoll
        try:
            if old is None:
                epoll.register(fd, events)
            else:
                epoll.modify(fd, events)
        except FileExistsError:
            epoll.modify(fd, events)
        except FileNotFoundError:
            epoll.register(fd, events)
        self._masks[fd] = events

    def unwatch(self, fd: int) -> None:
        self._handlers.pop(fd, None)
        if self._masks.pop(fd, None) is not None:
            try:  # noqa: SIM105 - contextlib.suppress costs 0.5 µs, and this runs per check
                self._epoll.unregister(fd)
            except (OSError, ValueError):
                pass  # already closed: the kernel dropped it

    def wake(self) -> None:
        with self._wake_lock:  # never write to the descriptor once close() released it
            if not self._closed:
                os.eventfd_write(self._wake_fd, 1)

    def wait(self, timeout: float) -> float:
        """Wait up to `timeout` s; call the handler of every descriptor that is ready.
        Returns the seconds spent blocked before anything was ready."""
        handlers = self._handlers
        wake_fd = self._wake_fd
        if timeout > 0:
            before = time.monotonic()
            ready = self._epoll.poll(timeout)
            blocked = time.monotonic() - before
        else:
            ready = self._epoll.poll(0)
            blocked = 0.0
        for fd, mask in ready:
            if fd == wake_fd:
                with contextlib.suppress(BlockingIOError):
                    os.eventfd_read(fd)
                continue
            handler = handlers.get(fd)
            if handler is not None:
                handler(fd, mask)
        return blocked

    def close(self) -> None:
        with self._wake_lock:
            if self._closed:
                return
            self._closed = True
        self._epoll.close()
        os.close(self._wake_fd)
