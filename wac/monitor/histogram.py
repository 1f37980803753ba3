"""A small fixed-bucket histogram of durations: cheap to record, mergeable, exact to 1 ms.

Used for the scheduler's lateness (start time minus due time). Buckets are 1 ms wide
up to 1 s and 100 ms wide up to 60 s, the last one open-ended, so a percentile is
known to the millisecond where it matters and recording costs one index computation.
The counts are a plain list, ready to be exported (Prometheus, a stats file) or merged
across worker processes.
"""

from __future__ import annotations

from collections.abc import Iterable

_FINE = 1000  # 1 ms buckets for [0, 1000) ms
_COARSE = 590  # 100 ms buckets for [1 s, 60 s)
SIZE = _FINE + _COARSE + 1  # + one bucket for 60 s and over


def bucket_of(ms: float) -> int:
    if ms < _FINE:
        return int(ms) if ms > 0 else 0
    return min(_FINE + int((ms - _FINE) / 100), SIZE - 1)


def bucket_upper_ms(index: int) -> float:
    """The upper bound of a bucket, in ms (inf for the last one)."""
    if index < _FINE:
        return float(index + 1)
    if index >= SIZE - 1:
        return float("inf")
    return float(_FINE + (index - _FINE + 1) * 100)


class Histogram:
    __slots__ = ("count", "counts", "max_ms", "sum_ms")

    def __init__(self, counts: Iterable[int] | None = None) -> None:
        self.counts = list(counts) if counts is not None else [0] * SIZE
        if len(self.counts) != SIZE:
            raise ValueError(f"a histogram has {SIZE} buckets, got {len(self.counts)}")
        self.count = sum(self.counts)
        self.sum_ms = 0.0
        self.max_ms = 0.0

    def record(self, seconds: float) -> None:
        ms = seconds * 1000.0
        self.counts[bucket_of(ms)] += 1
        self.count += 1
        self.sum_ms += ms
        if ms > self.max_ms:
            self.max_ms = ms

    def merge(self, other: Histogram) -> None:
        for i, n in enumerate(other.counts):
            if n:
                self.counts[i] += n
        self.count += other.count
        self.sum_ms += other.sum_ms
        self.max_ms = max(self.max_ms, other.max_ms)

    def percentile_ms(self, fraction: float) -> float | None:
        """Upper bound (ms) of the bucket holding the given fraction; None when empty."""
        if self.count == 0:
            return None
        rank = fraction * self.count
        seen = 0
        for index, n in enumerate(self.counts):
            seen += n
            if n and seen >= rank:
                return bucket_upper_ms(index)
        return bucket_upper_ms(SIZE - 1)

    def to_dict(self) -> dict[str, object]:
        """Sparse form for a stats file: {"count", "sum_ms", "max_ms", "buckets": {i: n}}."""
        return {
            "count": self.count,
            "sum_ms": self.sum_ms,
            "max_ms": self.max_ms,
            "buckets": {str(i): n for i, n in enumerate(self.counts) if n},
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Histogram:
        counts = [0] * SIZE
        buckets = data.get("buckets", {})
        assert isinstance(buckets, dict)
        for key, n in buckets.items():
            counts[int(key)] = int(n)
        histogram = cls(counts)
        histogram.sum_ms = float(data.get("sum_ms", 0.0))  # type: ignore[arg-type]
        histogram.max_ms = float(data.get("max_ms", 0.0))  # type: ignore[arg-type]
        return histogram
