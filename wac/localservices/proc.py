"""Small process helpers: pid files, liveness, stopping, ports, log tails, locks."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

# Popen objects of the servers this process started: kept so that they are reaped (no
# zombies while we poll) and never garbage-collected while still running.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
# Exit codes of those that ended (negative: killed by that signal), for error messages.
_EXITED: dict[int, int] = {}


def remember_child(proc: subprocess.Popen[bytes]) -> None:
    _CHILDREN[proc.pid] = proc


def _reap(pid: int) -> bool:
    """True when ``pid`` was our child and has exited."""
    child = _CHILDREN.get(pid)
    if child is None:
        return False
    code = child.poll()
    if code is None:
        return False
    del _CHILDREN[pid]
    _EXITED[pid] = code
    return True


def how_it_ended(pid: int, wait: float = 5.0) -> str:
    """How a child of ours ended: "exited with code N", "was killed by SIGKILL"; "" if unknown.

    Waits up to `wait` s for it: a process whose first thread has exited shows as a
    zombie while its other threads are still ending, and has no exit code until then.
    """
    child = _CHILDREN.get(pid)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(wait)
    _reap(pid)
    code = _EXITED.get(pid)
    if code is None:
        return ""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"


def cmdline(pid: int) -> list[str] | None:
    """The process's argv, or None when it doesn't exist (or is a zombie)."""
    if _reap(pid):
        return None
    try:
        if _state(Path(f"/proc/{pid}/stat")) in ("Z", "X"):
            return None
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    except PermissionError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def threads_ending(pid: int) -> bool:
    """True while ``pid``'s first thread has exited (a zombie) and another still runs."""
    task = Path(f"/proc/{pid}/task")
    try:
        if _state(Path(f"/proc/{pid}/stat")) != "Z":
            return False
        tids = os.listdir(task)
    except (OSError, IndexError):
        return False
    for tid in tids:
        try:
            if _state(task / tid / "stat") not in ("Z", "X"):
                return True
        except (OSError, IndexError):
            continue
    return False


def _state(stat: Path) -> str:
    """The state letter of a /proc stat file: the field after the parenthesised name."""
    return stat.read_text().rsplit(")", 1)[1].split()[0]


def alive_matching(pid: int | None, needles: Sequence[str]) -> bool:
    """True when ``pid`` runs and its command line contains every needle (stale pid guard)."""
    if pid is None or pid <= 0:
        return False
    argv = cmdline(pid)
    if argv is None:
        return False
    joined = " ".join(argv)
    return all(needle in joined for needle in needles)


def processes_in(folder: Path) -> list[int]:
    """Live processes whose working directory is ``folder`` (PostgreSQL's all chdir there)."""
    target = str(folder.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "cwd") == target and cmdline(int(entry.name)) is not None:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().split("\n", 1)[0].strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def write_private(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Write ``data`` atomically to ``path``, created with ``mode`` (never wider)."""
    payload = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def make_dir(path: Path, mode: int) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if (path.stat().st_mode & 0o7777) != mode:
        os.chmod(path, mode)
    return path


def terminate(pid: int, needles: Sequence[str], timeout: float = 30.0) -> bool:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL. True if it had to kill."""
    if not alive_matching(pid, needles):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_gone(pid, needles, timeout):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_gone(pid, needles, 10.0)
    return True


def wait_gone(pid: int, needles: Sequence[str], timeout: float) -> bool:
    """Wait until the process has ended, all its threads with it; False after `timeout`.

    Its first thread may end before the others: the process then shows as a zombie
    (and no command line) while a thread still tears it down, holding its files, its
    locks (Kafka's on its data folder) and its sockets. A new server started then
    fails on them.
    """
    deadline = time.monotonic() + timeout
    while alive_matching(pid, needles) or threads_ending(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_free(host: str, port: int) -> bool:
    """True when we could bind host:port now (nobody listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a text file ('' when missing)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read()
    except OSError:
        return ""
    text = data.decode(errors="replace").rstrip("\n")
    return "\n".join(text.splitlines()[-lines:])


def size_of(path: Path) -> int:
    """The size of a file, 0 when it is missing."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def lines_since(path: Path, offset: int, limit: int = 64 * 1024 * 1024) -> list[str]:
    """The lines written to a log file after `offset` (the file's size at some moment)."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size < offset:  # rotated meanwhile: all of the new file
                offset = 0
            fh.seek(max(offset, size - limit))
            data = fh.read()
    except OSError:
        return []
    return data.decode(errors="replace").splitlines()


def with_log_tail(message: str, *logs: Path, lines: int = 20) -> str:
    """``message`` followed by the tail of the first non-empty log among ``logs``."""
    for log in logs:
        text = tail(log, lines)
        if text.strip():
            return f"{message}\nLast lines of {log}:\n{text}"
    if logs:
        return f"{message}\n(no log output in {', '.join(str(p) for p in logs)})"
    return message


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created if needed), released on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def listening_pid(port: int) -> int | None:
    """The process listening on TCP `port` (any local address), from /proc: None when
    nothing listens there, or when its owner cannot be seen (another user's, without root).
    """
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN; the inode is field 9
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(entry.name)
        except OSError:
            continue
    return None


def listener_on(host: str, port: int) -> str | None:
    """What listens on host:port, in words (`Kafka, pid 12, of WAC_HOME /x/.wac`), or
    None when nothing accepts connections there."""
    pid = listening_pid(port)
    if pid is None:
        return "another process (not visible to this user)" if port_open(host, port) else None
    argv = cmdline(pid) or []
    joined = " ".join(argv)
    if "kafka.Kafka" in joined:
        config = Path(argv[-1]) if argv else None
        if config is not None and config.name == "server.properties":
            return f"the Kafka of WAC_HOME {config.parent.parent} (pid {pid})"
        return f"a Kafka broker (pid {pid})"
    if argv and Path(argv[0]).name == "postgres" and "-D" in argv[:-1]:
        data = Path(argv[argv.index("-D") + 1])
        if data.name == "data" and data.parent.name == "postgres":
            return f"the PostgreSQL of WAC_HOME {data.parent.parent} (pid {pid})"
        return f"a PostgreSQL with data in {data} (pid {pid})"
    name = Path(argv[0]).name if argv else "?"
    return f"{name} (pid {pid})"
