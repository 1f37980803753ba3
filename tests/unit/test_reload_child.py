"""A reload read in a forked child (wac.monitor.reload_child): only the differences come
back, a bad file's message word for word, a failing child as one line, and the parent's
threads keep the GIL meanwhile."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.test_monitor_hostile_input import BAD_FILES
from tests.support.gil_gaps import thread_gaps
from wac.errors import ConfigError
from wac.monitor.reload_child import CHUNK, ReloadError, read_differences, stop_readers
from wac.targets import Target, load_targets_file, target_from_url


def targets(count: int, timeout: float = 1.0) -> list[Target]:
    return [
        target_from_url(f"http://127.0.0.1:9/ok?t={i}", interval=60.0, timeout=timeout)
        for i in range(count)
    ]


def test_only_added_changed_and_removed_targets_come_back() -> None:
    a, b, c = targets(3)
    changed_b = dataclasses.replace(b, timeout=2.0)
    d = target_from_url("http://127.0.0.1:9/ok?t=d", interval=60.0, timeout=1.0)
    current = {t.id: t for t in (a, b, c)}

    differences = read_differences(lambda: [a, changed_b, d], current)

    assert differences.upsert == [changed_b, d]
    assert differences.remove == [c.id]
    assert differences.count == 3
    assert differences.read_s >= 0
    assert current == {t.id: t for t in (a, b, c)}  # the caller's mapping is untouched


def test_many_changes_come_back_whole_in_several_chunks() -> None:
    before = targets(CHUNK * 2 + 500)
    after = [dataclasses.replace(t, timeout=2.0) for t in before[1:]]

    differences = read_differences(lambda: after, {t.id: t for t in before})

    assert differences.upsert == after
    assert [t.timeout for t in differences.upsert] == [2.0] * len(after)
    assert differences.remove == [before[0].id]


def test_nothing_changed_is_nothing_to_apply() -> None:
    same = targets(10)
    differences = read_differences(lambda: same, {t.id: t for t in same})
    assert (differences.upsert, differences.remove, differences.count) == ([], [], 10)


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_hostile_file_is_the_same_one_line_error_as_read_here(case: str, tmp_path: Path) -> None:
    data, fragment = BAD_FILES[case]
    path = tmp_path / "targets.yaml"
    path.write_bytes(data)

    def load() -> list[Target]:
        return load_targets_file(path, default_timeout=1.0)

    with pytest.raises(ConfigError) as here:
        load()
    with pytest.raises(ConfigError) as forked:
        read_differences(load, {})
    assert str(forked.value) == str(here.value)
    assert fragment in str(forked.value) and "\n" not in str(forked.value)


def test_a_bug_in_the_loader_is_one_line_naming_it() -> None:
    def broken() -> list[Target]:
        raise RuntimeError("boom\nsecond line")

    with pytest.raises(ReloadError, match=r"^unexpected RuntimeError: boom$"):
        read_differences(broken, {})


def test_a_child_killed_while_reading_is_reported() -> None:
    def killed() -> list[Target]:
        os.kill(os.getpid(), signal.SIGKILL)
        return []

    with pytest.raises(ReloadError, match="killed by signal 9 without an answer"):
        read_differences(killed, {})


def test_a_child_over_its_deadline_is_stopped() -> None:
    def slow() -> list[Target]:
        time.sleep(30)
        return []

    started = time.monotonic()
    with pytest.raises(ReloadError, match="took over"):
        read_differences(slow, {}, deadline_s=0.5)
    assert time.monotonic() - started < 10  # killed, not waited for


def test_another_thread_keeps_running_while_a_hundred_thousand_targets_are_read(
    tmp_path: Path,
) -> None:
    """Read here, the YAML composer alone holds the GIL for a few hundred milliseconds;
    read in the child, the parent holds it only to unpickle a chunk at a time."""
    path = tmp_path / "targets.yaml"
    lines = ["defaults:\n  interval: 60s\n  timeout: 2s\ntargets:\n"]
    lines += [f"  - url: http://127.0.0.1:9/ok?t={i}\n" for i in range(100_000)]
    path.write_text("".join(lines))
    current = {t.id: t for t in targets(100_000)}  # timeout 1 s: every target changes
    with thread_gaps() as gaps:
        differences = read_differences(
            lambda: load_targets_file(path, default_timeout=1.0), current
        )
    assert len(differences.upsert) == 100_000 and differences.remove == []
    assert {t.timeout for t in differences.upsert} == {2.0}
    print(f"longest gaps: {[round(g * 1000) for g in gaps[-5:]]} ms over {len(gaps)} ticks")
    assert gaps[int(len(gaps) * 0.99)] < 0.1


def test_a_reader_stopped_with_the_monitor_is_abandoned_in_one_line() -> None:
    failure: list[BaseException] = []

    def reload() -> None:
        try:
            read_differences(lambda: time.sleep(30) or [], {})  # type: ignore[func-returns-value]
        except ReloadError as exc:
            failure.append(exc)

    thread = threading.Thread(target=reload)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    stop_readers()
    thread.join(10)
    assert time.monotonic() - started < 5
    assert [str(f) for f in failure] == ["abandoned: the monitor is stopping"]


def test_a_reload_with_over_1023_descriptors_open() -> None:
    """Past 1,023 checks in flight the pipe to the child gets a descriptor select()
    cannot watch: the reload must still come back."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.fail(f"the hard limit on open files is {hard}: this test needs 1,200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held: list[int] = []
    try:
        while not held or held[-1] < 1030:
            held.append(os.open(os.devnull, os.O_RDONLY))
        a, b = targets(2)
        differences = read_differences(lambda: [b], {a.id: a})
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert (differences.upsert, differences.remove) == ([b], [a.id])


def test_a_fork_that_fails_leaves_no_descriptor_open(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    before = set(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, "fork", no_fork)
    with pytest.raises(OSError):
        read_differences(lambda: [], {})
    assert set(os.listdir("/proc/self/fd")) == before


def test_client_certificates_are_loaded_by_the_parent_after_the_child(tmp_path: Path) -> None:
    """The child does not touch OpenSSL (another thread may have held its locks at the
    fork); the parent loads each new pair, and a pair that does not load is a bad file."""
    from tests.support.nginx import client_cert_files

    cert, key = client_cert_files(tmp_path)
    path = tmp_path / "targets.yaml"
    entry = f"- {{url: 'https://127.0.0.1:9/', client_cert: '{cert}', client_key: '{key}'}}"
    path.write_text(f"targets:\n  {entry}\n")

    differences = read_differences(lambda: load_targets_file(path, default_timeout=1.0), {})
    assert [t.client_cert for t in differences.upsert] == [str(cert)]

    key.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="do not load as a PEM certificate"):
        read_differences(lambda: load_targets_file(path, default_timeout=1.0), {})
