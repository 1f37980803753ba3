"""Noticing that the targets file changed: its size, modification time or inode moved.

Polled by the monitor's main thread about once a second (no inotify dependency, works
on every file system, and editors that replace the file are seen like those that
rewrite it). SIGHUP forces a reload whatever the file looks like.
"""

from __future__ import annotations

import os
from pathlib import Path

Stamp = tuple[int, int, int] | None


def file_stamp(path: Path) -> Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class FileWatch:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = file_stamp(path)

    def changed(self) -> bool:
        """True once after each change (a missing file is no change: keep what we have)."""
        stamp = file_stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        return True
