"""How many seeds? The seeds per side at which a difference would be significant, with a given power.

The comparison tables test each row with a two-sided t-test across seeds (:mod:`recipebench.analysis.stats`):
paired over the seeds both sides ran, Welch's otherwise. Planned here, for a true difference
``effect`` and a per-seed spread ``sd`` (both in the test's units: a proportion for error_rate, a
log ratio for wall s, img/s and peak MB), is the smallest number of seeds ``n`` per side at which
that test rejects at ``alpha`` with probability at least ``power``:

- paired: t = mean difference / (sd / sqrt(n)), Student's t with n - 1 degrees of freedom, ``sd``
  the standard deviation of the per-seed differences;
- unpaired: t = difference of means / (sd * sqrt(2 / n)), 2n - 2 degrees of freedom, ``sd`` the
  pooled standard deviation of one run;
- power = P(|T| > t crit) for T noncentral t with noncentrality effect / standard error
  (``scipy.stats.nct``), the textbook calculation (G*Power, ``statsmodels`` ``TTestPower``). Where
  the test adds a known session-to-session variance (``known_var``, compare's ``--session-noise``),
  it is added to the standard error and the degrees of freedom are Welch-Satterthwaite's: an
  approximation, as that test's own is.

``n`` is searched upward from 2 to ``max_seeds``: beyond it the plan says ``> max_seeds``; where no
number of seeds would do (the known session noise alone hides the difference) it says so.

The spread is the results' own, with two guards, because three seeds show it poorly:

- **Resolution floor (error_rate).** An error rate counts mistakes on ``n_valid`` images: it moves in
  steps of 1/n_valid, and three seeds that happened to agree (sd 0) must not plan "2 seeds". The
  observed sd is floored at a counting noise:

  - unpaired (runs on other seeds, independent counts): the binomial counting noise of one run,
    f = sqrt(p (1 - p) / n_valid) at each side's mean p (taken as at least one image), pooled:
    sqrt((f_base^2 + f_new^2) / 2). This is :mod:`recipebench.analysis.noise`'s model, and the committed
    baseline's seeds vary by no more than it.
  - paired (the same seed on both sides: the runs see the same images in the same order, and their
    mistakes overlap, so the independent counts above would overstate it: results/baseline's
    differences vary by about half of that): the counting noise of the images that must differ,
    at least |delta| n_valid of them (one image at the least), each counted as a coin flip
    (McNemar's view): sqrt(max(|delta|, 1/n_valid) / n_valid), ``delta`` the difference planned for.
- **Practical minimum.** A difference below the larger of the table's practical minimum
  (``minimum``: :attr:`recipebench.analysis.compare.Settings.min_effects`) and, for error_rate, one step
  (one image) is never a verdict, whatever the seeds: the plan is "-" (None).

With one seed on a side there is no spread to plan from: the plan says so, and that 3 seeds (2 at
the very least) would measure it.

The tables' verdicts are Holm-adjusted over their rows: a lone real change among m rows must reach
p < alpha / m, so their "seeds needed" column plans at that level (Holm's strictest step;
:func:`recipebench.analysis.compare.with_seeds_needed`). ``recipebench seeds`` and the simulation check
(``recipebench seeds --check``, docs/statistics-seeds.md) are in :mod:`recipebench.analysis.seeds`.
This module knows no table: it works on values and numbers (it sits below :mod:`recipebench.analysis.compare`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from recipebench.analysis.stats import Summary

DEFAULT_POWER = 0.8
#: The most seeds per side a plan searches; beyond, it says "> MAX_SEEDS".
MAX_SEEDS = 100
#: Seeds per recipe that measure a spread usefully (2 give one degree of freedom).
SEEDS_TO_MEASURE = 3

BELOW_MINIMUM = "below the practical minimum"
BEYOND_CAP = "beyond the cap"
UNREACHABLE = "session noise alone hides it"
ONE_SEED = "n=1"
NO_SPREAD = "no spread"


@dataclass(frozen=True)
class Spread:
    """The per-seed spread a plan rests on, in the test's units (proportion, or log ratio)."""

    sd: float  # what the plan uses: max(observed_sd, floor_sd)
    observed_sd: float
    floor_sd: float  # the counting-noise floor (0: none for this metric)
    paired: bool  # sd of the per-seed differences; else the pooled sd of one run
    n: int  # seeds (pairs) it was measured on

    @property
    def floored(self) -> bool:
        return self.floor_sd > self.observed_sd


@dataclass(frozen=True)
class Plan:
    """Seeds per side (pairs, for the paired design) for ``power`` at ``alpha``; None: see ``reason``."""

    seeds: int | None
    reason: str | None  # BELOW_MINIMUM, BEYOND_CAP, UNREACHABLE, ONE_SEED, NO_SPREAD; None with seeds
    effect: float  # the true difference planned for, in the test's units
    spread: Spread | None  # None with one seed
    alpha: float  # the per-row level planned at (alpha / family)
    power: float
    max_seeds: int = MAX_SEEDS

    def text(self) -> str:
        """The table cell: ``12``, ``-`` (below the minimum), ``> 100``, ``never``, ``n=1``, ``no spread``."""
        if self.seeds is not None:
            return str(self.seeds)
        return {BELOW_MINIMUM: "-", BEYOND_CAP: f"> {self.max_seeds}", UNREACHABLE: "never"}.get(self.reason,
                                                                                             self.reason)


def _variance(n, sd: float, paired: bool, known_var: float):
    """The squared standard error of the test at ``n`` seeds per side, and its Welch-Satterthwaite degrees
    of freedom (n - 1 paired, 2n - 2 unpaired, more where a known variance is added)."""
    import numpy as np

    n = np.asarray(n, dtype=float)
    sides = 1 if paired else 2
    part = sd ** 2 / n  # one side's (or the differences') estimated variance of the mean
    var = sides * part + known_var
    estimated = sides * part ** 2 / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(estimated > 0, var ** 2 / np.where(estimated > 0, estimated, 1.0), np.inf)
    return var, df


def power_at(n, effect: float, sd: float, alpha: float = 0.05, paired: bool = True, known_var: float = 0.0):
    """The power of the two-sided t-test at ``n`` seeds per side (a number or an array of them)."""
    import numpy as np
    from scipy.stats import nct, t

    var, df = _variance(n, sd, paired, known_var)
    df = np.minimum(df, 1e7)  # nct needs finite degrees of freedom; 1e7 is the normal curve
    nc = abs(effect) / np.sqrt(var)
    crit = t.ppf(1 - alpha / 2, df)
    return nct.sf(crit, df, nc) + nct.cdf(-crit, df, nc)


def seeds_for(effect: float, sd: float, alpha: float = 0.05, power: float = DEFAULT_POWER, paired: bool = True,
              known_var: float = 0.0, max_seeds: int = MAX_SEEDS) -> int | None:
    """The smallest n in 2..max_seeds with power >= ``power``; None when none is (see :func:`reachable`)."""
    import numpy as np

    if sd <= 0 and known_var <= 0:
        raise ValueError("no spread: a plan needs a standard deviation above 0")
    ns = np.arange(2, max_seeds + 1)
    reached = np.nonzero(power_at(ns, effect, max(sd, 0.0), alpha, paired, known_var) >= power)[0]
    return int(ns[reached[0]]) if len(reached) else None


def reachable(effect: float, alpha: float, power: float, known_var: float) -> bool:
    """Whether any number of seeds could do: the known variance does not shrink with seeds."""
    from scipy.stats import norm

    return known_var <= 0 or abs(effect) / math.sqrt(known_var) > norm.ppf(1 - alpha / 2) + norm.ppf(power)


def counting_sd(error_rate: float, n_valid: int) -> float:
    """The binomial sd of an error rate counted on ``n_valid`` images, its rate taken as >= one image."""
    step = 1 / n_valid
    p = min(max(error_rate, step), 1 - step)
    return math.sqrt(p * (1 - p) / n_valid)


def floor_sd(base_rate: float, new_rate: float, paired: bool, n_valid: int, effect: float) -> float:
    """The counting-noise floor of an error rate's per-seed sd (see the module's docstring): ``effect``
    the difference planned for (a proportion), the rates each side's mean."""
    if paired:
        return math.sqrt(max(abs(effect), 1 / n_valid) / n_valid)
    return math.sqrt((counting_sd(base_rate, n_valid) ** 2 + counting_sd(new_rate, n_valid) ** 2) / 2)


def effect_of(change: float, log: bool) -> float:
    """A change in its unit (pp, or % for a ratio: ``log``) in the test's units (proportion, or log ratio)."""
    return math.log(1 + change / 100) if log else change / 100


def spread_of(base: Sequence[float], new: Sequence[float], paired: bool, log: bool = False,
              counted_on: int | None = None, effect: float | None = None) -> Spread | None:
    """The per-seed spread of ``base`` and ``new`` (paired: ``base[i]`` and ``new[i]`` share a seed), on log
    values with ``log``; None when a side (or the pairs) has one seed only. ``counted_on``: the images an
    error rate was counted on (the counting floor applies); ``effect``: the difference planned for, in
    the test's units (default: the observed one), which the paired floor grows with."""
    scaled = [[math.log(v) if log else v for v in side] for side in (base, new)]
    if paired:
        if len(base) != len(new):
            raise ValueError(f"paired values of different lengths ({len(base)}, {len(new)})")
        s = Summary.of(y - x for x, y in zip(*scaled))
        if s is None or s.std is None:
            return None
        observed, n = s.std, s.n
    else:
        sa, sb = (Summary.of(v) for v in scaled)
        if sa is None or sb is None or sa.std is None or sb.std is None:
            return None
        observed = math.sqrt(((sa.n - 1) * sa.std ** 2 + (sb.n - 1) * sb.std ** 2) / (sa.n + sb.n - 2))
        n = min(sa.n, sb.n)
    floor = 0.0
    if counted_on:
        means = [sum(v) / len(v) for v in (base, new)]
        floor = floor_sd(*means, paired, counted_on, means[1] - means[0] if effect is None else effect)
    return Spread(max(observed, floor), observed, floor, paired, n)


def plan(base: Sequence[float], new: Sequence[float], paired: bool, change: float, log: bool = False,
         counted_on: int | None = None, minimum: float = 0.0, alpha: float = 0.05, known_var: float = 0.0,
         power: float = DEFAULT_POWER, max_seeds: int = MAX_SEEDS) -> Plan:
    """Seeds per side to detect a true ``change`` (pp, or % with ``log``) with the spread of these values.

    ``counted_on``: for an error rate, the validation images it was counted on (the counting floor, and
    one image as the least change); ``minimum``: the table's practical minimum, in ``change``'s unit;
    ``known_var``: a variance the test adds that seeds do not shrink (the session noise of both sides)."""
    effect = effect_of(abs(change), log)

    def made(seeds: int | None, reason: str | None, spread: Spread | None) -> Plan:
        return Plan(seeds, reason, effect, spread, alpha, power, max_seeds)

    if abs(change) < max(minimum, 100 / counted_on if counted_on else 0.0):
        return made(None, BELOW_MINIMUM, None)
    spread = spread_of(base, new, paired, log, counted_on, effect)
    if spread is None:
        return made(None, ONE_SEED, None)
    if spread.sd <= 0 and known_var <= 0:
        return made(None, NO_SPREAD, spread)
    seeds = seeds_for(effect, spread.sd, alpha, power, paired, known_var, max_seeds)
    if seeds is None:
        return made(None, BEYOND_CAP if reachable(effect, alpha, power, known_var) else UNREACHABLE, spread)
    return made(seeds, None, spread)


def n_valid_of(results) -> int | None:
    """The validation set's size of these results (the smallest, where they differ: the coarser step)."""
    sizes = [r.n_valid for r in results if getattr(r, "n_valid", None)]
    return min(sizes) if sizes else None


def column_legend(alpha: float, power: float = DEFAULT_POWER, metric: str = "error_rate") -> str:
    """How to read the tables' "seeds needed" column, which plans for ``metric`` (``--metric``)."""
    return (f"seeds needed: seeds per side at which the observed Δ {metric} would be significant with "
            f"{power:.0%} power, at alpha {alpha:g} / the rows tested (a lone real change must pass Holm's "
            "strictest step), from the per-seed spread (paired: of the differences), floored at the counting "
            "noise of the validation images (recipebench.analysis.power); -: below the practical minimum or one image; "
            f"> {MAX_SEEDS}: more; n=1: no spread to plan from (recipebench seeds RESULTS --delta 1pp plans a "
            "change you choose).")
