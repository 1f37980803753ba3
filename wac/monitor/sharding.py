"""`--shard i/n`: which targets this monitor process checks, by a stable hash of the id.

Shards are numbered 0 to n-1. A target belongs to shard `h(id) mod n`, with `h` the
first 8 bytes of BLAKE2b: the same in every process, on every machine, and unrelated
to the scheduler's spread (which uses crc32), so each shard still gets evenly spread
checks. `split(w)` divides a shard among w worker processes: worker j of shard i/n
takes shard (i + n*j)/(n*w), and those w shards together are exactly shard i/n.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from wac.errors import ConfigError
from wac.targets import Target

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def shard_hash(target_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(target_id.encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not (self.count >= 1 and 0 <= self.index < self.count):
            raise ValueError(f"bad shard {self.index}/{self.count}")

    def owns(self, target_id: str) -> bool:
        return self.count == 1 or shard_hash(target_id) % self.count == self.index

    def select(self, targets: Iterable[Target]) -> list[Target]:
        return [t for t in targets if self.owns(t.id)]

    def split(self, workers: int) -> list[Shard]:
        return [Shard(self.index + self.count * j, self.count * workers) for j in range(workers)]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """`i/n` with 0 <= i < n; a ConfigError naming the option otherwise."""
    match = _SHARD.match(text)
    if not match:
        raise ConfigError(f"--shard {text!r} is not i/n: use e.g. --shard 0/2 and --shard 1/2")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or index >= count:
        raise ConfigError(
            f"--shard {text!r}: shards are numbered 0 to n-1, e.g. --shard 0/{max(count, 2)}"
        )
    return Shard(index, count)
