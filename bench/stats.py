"""Small statistics helpers (no numpy needed)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of values; inf entries stand for 'not seen'."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float], censored: int = 0) -> dict[str, float]:
    """count, p50, p99, p99.9 and max; `censored` samples count as longer than any seen."""
    everything = list(values) + [math.inf] * censored
    return {
        "count": len(values),
        "not_seen": censored,
        "p50": percentile(everything, 50),
        "p99": percentile(everything, 99),
        "p99.9": percentile(everything, 99.9),
        "max": max(values) if values else math.nan,
    }


def median_min_max(values: Sequence[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x; 0 for fewer than two points."""
    if len(points) < 2:
        return 0.0
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0
