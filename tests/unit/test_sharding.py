"""--shard i/n and the split among worker processes, and the targets-file watch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wac.errors import ConfigError
from wac.monitor.file_watch import FileWatch
from wac.monitor.sharding import Shard, parse_shard
from wac.targets import target_from_url

TARGETS = [target_from_url(f"https://site-{i}.test/", interval=10, timeout=1) for i in range(3000)]


def test_shards_partition_the_targets_evenly() -> None:
    shards = [parse_shard(f"{i}/3") for i in range(3)]
    parts = [{t.id for t in shard.select(TARGETS)} for shard in shards]
    assert set.union(*parts) == {t.id for t in TARGETS}
    assert sum(len(p) for p in parts) == len(TARGETS)  # disjoint
    assert all(900 <= len(p) <= 1100 for p in parts), [len(p) for p in parts]


def test_workers_split_a_shard_into_exactly_its_targets() -> None:
    shard = Shard(1, 3)
    mine = {t.id for t in shard.select(TARGETS)}
    workers = shard.split(4)
    assert [str(w) for w in workers] == ["1/12", "4/12", "7/12", "10/12"]
    parts = [{t.id for t in w.select(TARGETS)} for w in workers]
    assert set.union(*parts) == mine and sum(len(p) for p in parts) == len(mine)
    assert all(p for p in parts)


def test_whole_set_by_default() -> None:
    assert Shard().select(TARGETS) == TARGETS


@pytest.mark.parametrize(
    ("raw", "message"),
    [("2/2", "numbered 0 to n-1"), ("1", "not i/n"), ("a/b", "not i/n"), ("0/0", "0 to n-1")],
)
def test_bad_shards(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_shard(raw)


def test_file_watch_sees_each_change_once(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text("one")
    watch = FileWatch(path)
    assert not watch.changed()
    path.write_text("two, longer")
    assert watch.changed() and not watch.changed()
    # Replaced by an editor (new inode), same size and time: still a change.
    stat = path.stat()
    replacement = tmp_path / "new.yaml"
    replacement.write_text("six, longe")
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    replacement.replace(path)
    assert watch.changed()
    path.unlink()
    assert not watch.changed()  # gone: keep the targets we have
