"""Small, dependency-free summary statistics for repeated runs (seeds)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Summary:
    """Summary of a sample: n, mean, sample standard deviation (ddof=1), median, min, max."""

    n: int
    mean: float
    std: float | None  # None when n < 2
    median: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Summary | None:
        xs = sorted(float(v) for v in values if v is not None and math.isfinite(float(v)))
        if not xs:
            return None
        n = len(xs)
        mean = sum(xs) / n
        std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else None
        mid = n // 2
        median = xs[mid] if n % 2 else (xs[mid - 1] + xs[mid]) / 2
        return cls(n, mean, std, median, xs[0], xs[-1])
