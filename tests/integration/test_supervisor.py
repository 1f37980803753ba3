"""Child supervision (`wac up`, `wac monitor --workers`) with real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from tests.support.processes import wait_for
from wac.runtime.supervisor import Child, Supervisor

CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    name, log, code, linger = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    def note(what):
        with open(log, "a") as out:
            out.write(f"{name} {what} {time.monotonic()}\\n")
    def stop(signum, frame):
        note("term")
        time.sleep(linger)
        note("exit")
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, lambda signum, frame: note("hup"))
    note(f"pgid={os.getpgid(0)}")
    if code >= 0:
        time.sleep(0.5)
        sys.exit(code)
    while True:
        time.sleep(0.02)
    """
)


def child(tmp_path: Path, name: str, *, code: int = -1, linger: float = 0.0, **kw: bool) -> Child:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    argv = [sys.executable, str(script), name, str(tmp_path / "log"), str(code), str(linger)]
    return Child(name, argv, **kw)


def events(tmp_path: Path) -> list[tuple[str, str, float]]:
    path = tmp_path / "log"
    lines = path.read_text().splitlines() if path.exists() else []
    found = []
    for line in lines:
        name, what, when = line.rsplit(" ", 2)
        found.append((name, what, float(when)))
    return found


def when(tmp_path: Path, name: str, what: str) -> float:
    return next(t for n, w, t in events(tmp_path) if n == name and w == what)


def started(tmp_path: Path, count: int) -> None:
    wait_for(
        lambda: sum(w.startswith("pgid") for _, w, _ in events(tmp_path)) == count,
        20,
        "the children to start",
    )


def stop_once_started(supervisor: Supervisor, tmp_path: Path, count: int) -> None:
    """In a thread: stop the supervisor once its children run (or after 20 s regardless)."""

    def body() -> None:
        try:
            started(tmp_path, count)
            time.sleep(0.3)
        finally:
            supervisor.stop()

    threading.Thread(target=body, daemon=True).start()


def test_a_stop_ends_the_first_child_then_the_others_after_the_drain(tmp_path: Path) -> None:
    supervisor = Supervisor(
        [
            child(tmp_path, "monitor", linger=0.5, stops_first=True),
            child(tmp_path, "store"),
            child(tmp_path, "web"),
        ],
        label="test",
        drain_s=0.7,
    )
    stop_once_started(supervisor, tmp_path, 3)
    assert supervisor.run() == 0
    monitor_exit = when(tmp_path, "monitor", "exit")
    for consumer in ("store", "web"):
        assert when(tmp_path, consumer, "term") >= monitor_exit + 0.6
    assert when(tmp_path, "monitor", "term") < monitor_exit


def test_each_child_has_a_process_group_of_its_own(tmp_path: Path) -> None:
    supervisor = Supervisor([child(tmp_path, "a"), child(tmp_path, "b")], label="test")
    stop_once_started(supervisor, tmp_path, 2)
    supervisor.run()
    groups = {w for _, w, _ in events(tmp_path) if w.startswith("pgid")}
    assert len(groups) == 2 and f"pgid={os.getpgid(0)}" not in groups


def test_a_child_that_fails_stops_the_others_and_gives_its_exit_code(tmp_path: Path) -> None:
    supervisor = Supervisor(
        [child(tmp_path, "monitor", stops_first=True), child(tmp_path, "store", code=3)],
        label="test",
        drain_s=0.1,
    )
    started_at = time.monotonic()
    assert supervisor.run() == 3
    assert time.monotonic() - started_at < 15
    assert when(tmp_path, "monitor", "term") > 0


def test_a_child_that_ends_on_its_own_with_0_is_a_failure_too(tmp_path: Path) -> None:
    supervisor = Supervisor([child(tmp_path, "a", code=0), child(tmp_path, "b")], label="test")
    assert supervisor.run() == 1


def test_sighup_goes_to_the_children_that_reload_only(tmp_path: Path) -> None:
    supervisor = Supervisor(
        [
            child(tmp_path, "worker", reloads=True, stops_first=True),
            child(tmp_path, "other"),
        ],
        label="test",
        drain_s=0.1,
    )

    def hang_up_then_stop() -> None:
        try:
            started(tmp_path, 2)
            os.kill(os.getpid(), signal.SIGHUP)
            wait_for(lambda: any(w == "hup" for _, w, _ in events(tmp_path)), 10, "the SIGHUP")
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=hang_up_then_stop, daemon=True).start()
    assert supervisor.run() == 0
    hups = [n for n, w, _ in events(tmp_path) if w == "hup"]
    assert hups == ["worker"]


def test_the_children_die_with_the_supervisor(tmp_path: Path) -> None:
    """However the supervisor ends (here SIGKILL), its children get SIGTERM."""
    script = tmp_path / "supervise.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(Path.cwd())!r})
            from tests.integration.test_supervisor import child
            from wac.runtime.supervisor import Supervisor
            from pathlib import Path
            tmp = Path({str(tmp_path)!r})
            Supervisor([child(tmp, "a"), child(tmp, "b")], label="test").run()
            """
        )
    )
    parent = subprocess.Popen([sys.executable, str(script)])
    try:
        started(tmp_path, 2)
    finally:
        parent.kill()
        parent.wait()
    wait_for(
        lambda: {n for n, w, _ in events(tmp_path) if w == "exit"} == {"a", "b"},
        10,
        "both children to stop",
    )
