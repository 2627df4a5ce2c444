"""Latency statistics over raw samples (host runner), computed the same way everywhere."""

from __future__ import annotations

import math
from collections.abc import Sequence

from benchmarks.result import LatencyStats


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), `q` in [0, 100], on sorted data."""
    if not sorted_ms:
        raise ValueError("no samples")
    k = (len(sorted_ms) - 1) * q / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(sorted_ms) - 1)
    return sorted_ms[lo] + (k - lo) * (sorted_ms[hi] - sorted_ms[lo])


def latency_stats(samples_ms: Sequence[float]) -> LatencyStats:
    """Mean, sample std, min/max and p50/p90/p99 of all samples."""
    data = sorted(samples_ms)
    n = len(data)
    mean = sum(data) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in data) / (n - 1)) if n > 1 else 0.0
    return LatencyStats(count=n, mean_ms=mean, std_ms=std, min_ms=data[0], max_ms=data[-1],
                        p50_ms=percentile(data, 50), p90_ms=percentile(data, 90), p99_ms=percentile(data, 99))
