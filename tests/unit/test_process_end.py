"""A process has ended when its last thread has, not when its first one has.

A JVM's first thread can exit while another still tears the process down, holding its
files and locks: the process then shows as a zombie with no command line. Starting a
new broker on the same data folder then fails on its lock.
"""

from __future__ import annotations

import subprocess
import sys
import time

from wac.localservices.proc import alive_matching, threads_ending, wait_gone

# The first thread exits (pthread_exit, from ctypes: the GIL is released) while a second
# sleeps on, then ends the process.
FIRST_THREAD_EXITS = """
import ctypes, threading, time
threading.Thread(target=time.sleep, args=({seconds},)).start()
ctypes.CDLL(None).pthread_exit(None)
"""


def test_a_process_whose_first_thread_exited_is_waited_for_until_its_last_has() -> None:
    seconds = 1.5
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", FIRST_THREAD_EXITS.format(seconds=seconds)])
    try:
        deadline = time.monotonic() + 10
        while not threads_ending(proc.pid):
            assert time.monotonic() < deadline, "the first thread never exited"
            time.sleep(0.01)
        # What a liveness check by command line sees: nothing left.
        assert not alive_matching(proc.pid, [sys.executable])
        assert wait_gone(proc.pid, [sys.executable], 10)
        assert time.monotonic() - started >= seconds  # the sleeping thread was waited for
        assert proc.wait(1) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_running_process_is_not_ending_and_is_not_gone() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.2)
        assert not threads_ending(proc.pid)
        assert not wait_gone(proc.pid, [sys.executable], 0.3)
    finally:
        proc.kill()
        proc.wait()
    assert wait_gone(proc.pid, [sys.executable], 1)
