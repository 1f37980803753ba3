"""One aggregate (a target over a window, or one point of a series) and its numbers."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from typing import Any

from wac.rollups.tiers import (
    HIST_COLUMNS,
    KINDS,
    PHASES,
    RESPONSE_TIME_BOUNDS_MS,
)


def percentile(
    hist: Sequence[int],
    q: float,
    rt_min: float | None = None,
    rt_max: float | None = None,
    bounds: Sequence[float] = RESPONSE_TIME_BOUNDS_MS,
) -> float | None:
    """Estimate the q-quantile (0 < q <= 1) from a fixed-bucket histogram.

    The rank q·n falls in one bucket; the value is interpolated linearly inside it,
    the bucket narrowed to [rt_min, rt_max] when known (so a constant series is exact).
    """
    return percentiles(hist, (q,), rt_min, rt_max, bounds)[0]


def percentiles(
    hist: Sequence[int],
    qs: Sequence[float],
    rt_min: float | None = None,
    rt_max: float | None = None,
    bounds: Sequence[float] = RESPONSE_TIME_BOUNDS_MS,
) -> list[float | None]:
    """`percentile` of each of `qs`, from one running sum of the histogram: a report of
    20,000 targets asks for 60,000 of them.

    The rank q·n falls in the first bucket whose running sum reaches it (a bisection):
    that bucket holds at least one value, as every sum before it is below the rank.
    """
    running = list(accumulate(hist))
    n = running[-1] if running else 0
    if n == 0:
        return [None] * len(qs)
    out: list[float | None] = []
    for q in qs:
        rank = q * n
        i = bisect_left(running, rank)
        if i == len(running):
            out.append(rt_max)
            continue
        seen = running[i - 1] if i > 0 else 0
        lo = bounds[i - 1] if i > 0 else 0.0
        hi = bounds[i] if i < len(bounds) else (rt_max if rt_max is not None else lo)
        if rt_min is not None:
            lo = max(lo, rt_min)
        if rt_max is not None:
            hi = min(hi, rt_max)
        hi = max(hi, lo)
        out.append(lo + (hi - lo) * (rank - seen) / (running[i] - seen))
    return out


@dataclass
class Aggregate:
    checks: int = 0
    failures: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    rt_count: int = 0
    rt_sum: float = 0.0
    rt_min: float | None = None
    rt_max: float | None = None
    phase_sums: dict[str, float] = field(default_factory=dict)
    tls_expires_at: datetime | None = None
    hist: list[int] = field(default_factory=lambda: [0] * len(HIST_COLUMNS))

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> Aggregate:
        """From the values of SCALAR_COLUMNS (wac.rollups.tiers) in their order, then the
        histogram as one list (a query's row without the names: 20,000 targets' rows are
        read faster)."""
        kinds = values[2 : 2 + len(KINDS)]
        rt_count, rt_sum, rt_min, rt_max, *rest = values[2 + len(KINDS) :]
        phases, tls_expires_at, hist = rest[: len(PHASES)], rest[-2], rest[-1]
        return cls(
            checks=int(values[0] or 0),
            failures=int(values[1] or 0),
            by_kind={k: int(n) for k, n in zip(KINDS, kinds, strict=True) if n},
            rt_count=int(rt_count or 0),
            rt_sum=float(rt_sum or 0.0),
            rt_min=rt_min,
            rt_max=rt_max,
            phase_sums={p: float(v or 0.0) for p, v in zip(PHASES, phases, strict=True)},
            tls_expires_at=tls_expires_at,
            hist=list(hist),
        )

    @property
    def uptime_pct(self) -> float | None:
        if self.checks == 0:
            return None
        return 100.0 * (self.checks - self.failures) / self.checks

    @property
    def avg_ms(self) -> float | None:
        return self.rt_sum / self.rt_count if self.rt_count else None

    def phase_avgs(self) -> dict[str, float | None]:
        return {
            p: (self.phase_sums.get(p, 0.0) / self.rt_count if self.rt_count else None)
            for p in PHASES
        }

    def p(self, q: float) -> float | None:
        return percentile(self.hist, q, self.rt_min, self.rt_max)

    def to_json(self) -> dict[str, Any]:
        p50, p95, p99 = percentiles(self.hist, (0.50, 0.95, 0.99), self.rt_min, self.rt_max)
        return {
            "checks": self.checks,
            "failures": self.failures,
            "uptime_pct": _round(self.uptime_pct, 4),
            "failures_by_kind": dict(sorted(self.by_kind.items(), key=lambda kv: -kv[1])),
            "response_time_ms": {
                "count": self.rt_count,
                "avg": _round(self.avg_ms),
                "min": _round(self.rt_min),
                "max": _round(self.rt_max),
                "p50": _round(p50),
                "p95": _round(p95),
                "p99": _round(p99),
            },
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)
