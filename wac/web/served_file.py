"""What `wac web` serves from the targets file (`--config`): its status pages and its
push:// targets; read at start and again on SIGHUP.

A reload that fails (a mistake in the file, the file gone) is one logged line naming
what is wrong; what was served before is served on, as the monitor keeps its targets.
SIGHUP without `--config` is logged and changes nothing (it does not stop `wac web`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wac.errors import ConfigError
from wac.pages.config import StatusPage, pages_of
from wac.targets import Target, read_targets_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedFile:
    pages: tuple[StatusPage, ...]
    pushed: tuple[Target, ...]  # push:// targets: their pings come to /api/push/<token>


def read_served_file(path: Path, default_timeout: float) -> ServedFile:
    """The file's pages and push targets (the file read once); ConfigError if wrong."""
    targets_file = read_targets_file(path, default_timeout=default_timeout, require_targets=False)
    pushed = tuple(t for t in targets_file.targets if t.scheme == "push")
    return ServedFile(pages_of(targets_file), pushed)


def reload_on_hangup(
    reread: Callable[[], ServedFile] | None,
    apply: Callable[[ServedFile], None],
    source: str,
) -> Callable[[], None]:
    """Install the SIGHUP handler on the running loop; returns what removes it."""
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[None]] = set()  # a reference, so the task is not collected

    async def reload() -> None:
        assert reread is not None
        try:
            served = await loop.run_in_executor(None, reread)
        except ConfigError as exc:
            log.error("SIGHUP: %s; the status pages and push targets read before are kept", exc)
            return
        apply(served)
        log.info(
            "SIGHUP: %s read again: %d status page(s), %d push target(s)",
            source,
            len(served.pages),
            len(served.pushed),
        )

    def on_hangup() -> None:
        if reread is None:
            log.info("SIGHUP: nothing to reload (wac web runs without --config)")
            return
        task = loop.create_task(reload())
        running.add(task)
        task.add_done_callback(running.discard)

    def remove() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    return remove
