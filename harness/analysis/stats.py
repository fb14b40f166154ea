"""Statistics for repeated runs (seeds): summaries, Welch's and the paired t-test, Holm's adjustment."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence


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
        if std is not None and xs[0] == xs[-1]:
            std = 0.0  # exactly, not the rounding error of the mean
        mid = n // 2
        median = xs[mid] if n % 2 else (xs[mid - 1] + xs[mid]) / 2
        return cls(n, mean, std, median, xs[0], xs[-1])


WELCH = "Welch"
PAIRED = "paired"


@dataclass(frozen=True)
class Significance:
    """A two-sided t-test of new against base (``kind``: Welch or paired), or why none was possible.

    ``p`` is None when the test cannot be made: fewer than two values on a side or pairs (``"n=1"``),
    or no spread at all while the means differ (``"no spread"``; equal means give ``p`` = 1).
    """

    p: float | None
    kind: str = WELCH
    t: float | None = None
    df: float | None = None
    reason: str | None = None  # why there is no test

    @property
    def tested(self) -> bool:
        return self.p is not None


#: A spread this small against the size of the values themselves is float rounding, not a spread: 0.105 - 0.10
#: and 0.205 - 0.20 differ in the 17th digit. No measured figure here varies by a billionth of itself.
ROUNDING = 1e-9


def _spread_var(s: Summary, *values: Sequence[float]) -> float:
    """The variance of the mean of ``s``, with a spread of float rounding (relative to ``values``) as none."""
    size = max((abs(v) for vs in values for v in vs), default=0.0)
    return 0.0 if s.std <= ROUNDING * size else s.std ** 2 / s.n


def _scaled(values: Sequence[float], log: bool, resolution: float | None = None) -> list[float]:
    """Log values, or with ``resolution`` the counts of steps the values are (exact: integers)."""
    if resolution is not None:
        if log:
            raise ValueError("a resolution is a step of the values themselves, not of their logs")
        return [float(round(v / resolution)) for v in values]
    return [math.log(v) if log else float(v) for v in values]


def _student(diff: float, var: float, df: float, kind: str) -> Significance:
    """t = diff / sqrt(var) against Student's t with ``df`` degrees of freedom (``scipy.special.stdtr``)."""
    if var == 0:
        return Significance(p=1.0, kind=kind) if diff == 0 else Significance(p=None, kind=kind, reason="no spread")
    from scipy.special import stdtr

    t = diff / math.sqrt(var)
    return Significance(p=float(min(1.0, 2 * stdtr(df, -abs(t)))), kind=kind, t=t, df=df)


def _satterthwaite(parts: Sequence[tuple[float, int]], known: float) -> float:
    """Degrees of freedom of a sum of variance estimates (variance, its df) plus a known variance."""
    estimated = sum(v ** 2 / df for v, df in parts)
    total = sum(v for v, _ in parts) + known
    return total ** 2 / estimated if estimated else math.inf


def welch(a: Sequence[float], b: Sequence[float], log: bool = False, session_var: float = 0.0,
          resolution: float | None = None) -> Significance:
    """Welch's unequal-variance t-test of ``b`` against ``a``, two-sided.

    t = (mean b - mean a) / sqrt(var a / n_a + var b / n_b) with the Welch-Satterthwaite degrees of
    freedom, as ``scipy.stats.ttest_ind(b, a, equal_var=False)`` computes it, without its overhead.
    With ``log`` it compares log values, i.e. ratios: right for times, rates and memory.
    ``session_var``: a known variance of each side's mean that its own runs cannot show (a whole
    session on a faster or slower machine); it is added for both sides.
    ``resolution``: the values are multiples of it (error rates: counts over the validation images, 1 /
    n_valid); the test then works on the counts, so that a spread of float rounding is no spread.
    """
    xs, ys = _scaled(a, log, resolution), _scaled(b, log, resolution)
    session_var = session_var / resolution ** 2 if resolution else session_var
    if len(xs) < 2 or len(ys) < 2:
        return Significance(p=None, kind=WELCH, reason="n=1")
    sa, sb = Summary.of(xs), Summary.of(ys)
    parts = [(_spread_var(sa, xs), sa.n - 1), (_spread_var(sb, ys), sb.n - 1)]
    var = parts[0][0] + parts[1][0] + 2 * session_var
    return _student(sb.mean - sa.mean, var, _satterthwaite(parts, 2 * session_var), WELCH)


def paired(a: Sequence[float], b: Sequence[float], log: bool = False, session_var: float = 0.0,
           resolution: float | None = None) -> Significance:
    """The paired t-test of ``b[i] - a[i]`` (``scipy.stats.ttest_rel(b, a)``), two-sided.

    For runs that share their seed (same initial weights and data order), so that differences
    between seeds drop out of the comparison. ``session_var`` and ``resolution`` as for :func:`welch`:
    with a resolution, a constant shift of counts (10/12/15 -> 12/14/17 of 129) is "no spread", where
    float differences would differ by rounding alone and give a t of 10^14.
    """
    if len(a) != len(b):
        raise ValueError(f"paired samples of different lengths ({len(a)}, {len(b)})")
    xs, ys = _scaled(a, log, resolution), _scaled(b, log, resolution)
    diffs = [y - x for x, y in zip(xs, ys)]
    session_var = session_var / resolution ** 2 if resolution else session_var
    if len(diffs) < 2:
        return Significance(p=None, kind=PAIRED, reason="n=1")
    s = Summary.of(diffs)
    parts = [(_spread_var(s, xs, ys), s.n - 1)]
    return _student(s.mean, parts[0][0] + 2 * session_var, _satterthwaite(parts, 2 * session_var), PAIRED)


def holm(ps: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values of a family of tests (None: no test, left out of the family).

    Rejecting where the adjusted p < alpha keeps the chance of any false alarm in the family <= alpha.
    """
    tested = sorted((p, i) for i, p in enumerate(ps) if p is not None)
    m = len(tested)
    out: list[float | None] = [None] * len(ps)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out
