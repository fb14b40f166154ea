"""How many seeds? The seeds per side at which a difference would be significant, with a given power.

The comparison tables test each row with a two-sided t-test across seeds (:mod:`recipebench.stats`):
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
    sqrt((f_base^2 + f_new^2) / 2). This is :mod:`recipebench.noise`'s model, and the committed
    baseline's seeds vary by no more than it.
  - paired (the same seed on both sides: the runs see the same images in the same order, and their
    mistakes overlap, so the independent counts above would overstate it: results/baseline's
    differences vary by about half of that): the counting noise of the images that must differ,
    at least |delta| n_valid of them (one image at the least), each counted as a coin flip
    (McNemar's view): sqrt(max(|delta|, 1/n_valid) / n_valid), ``delta`` the difference planned for.
- **Practical minimum.** A difference below the larger of the table's practical minimum
  (:attr:`recipebench.compare.Settings.min_effects`) and, for error_rate, one step (one image) is
  never a verdict, whatever the seeds: the plan is "-" (None).

With one seed on a side there is no spread to plan from: the plan says so, and that 3 seeds (2 at
the very least) would measure it.

The tables' verdicts are Holm-adjusted over their rows: a lone real change among ``family`` rows
must reach p < alpha / family, so the tables plan at that level (Holm's strictest step).

    python -m recipebench.power --check   # the planned seeds against simulated pairs (docs/statistics-seeds.md)
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace
from typing import Sequence

from recipebench.compare import Delta, Metric, RowComparison, Settings
from recipebench.stats import PAIRED, Summary

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


# --- from a table's values -----------------------------------------------------------------------------------

def counting_sd(error_rate: float, n_valid: int) -> float:
    """The binomial sd of an error rate counted on ``n_valid`` images, its rate taken as >= one image."""
    step = 1 / n_valid
    p = min(max(error_rate, step), 1 - step)
    return math.sqrt(p * (1 - p) / n_valid)


def effect_of(metric: Metric, amount: float) -> float:
    """A change in the metric's unit (pp, or %) in the test's units (proportion, or log ratio)."""
    return math.log(1 + amount / 100) if metric.log else amount / 100


def minimum(metric: Metric, settings: Settings, n_valid: int | None) -> float:
    """The practical minimum, in the metric's unit: the table's, and for error_rate at least one image."""
    floor = 100 / n_valid if metric.name == "error_rate" and n_valid else 0.0
    return max(settings.min_effects[metric.name], floor)


def floor_sd(base_rate: float, new_rate: float, paired: bool, n_valid: int, effect: float) -> float:
    """The counting-noise floor of an error rate's per-seed sd (see the module's docstring): ``effect``
    the difference planned for (a proportion), the rates each side's mean."""
    if paired:
        return math.sqrt(max(abs(effect), 1 / n_valid) / n_valid)
    return math.sqrt((counting_sd(base_rate, n_valid) ** 2 + counting_sd(new_rate, n_valid) ** 2) / 2)


def spread_of(metric: Metric, base: Sequence[float], new: Sequence[float], paired: bool,
              n_valid: int | None = None, effect: float | None = None) -> Spread | None:
    """The per-seed spread of ``base`` and ``new`` (paired: ``base[i]`` and ``new[i]`` share a seed);
    None when a side (or the pairs) has one seed only. ``effect``: the difference planned for, in the
    test's units (default: the observed one), which the paired counting floor grows with."""
    scaled = [[math.log(v) if metric.log else v for v in side] for side in (base, new)]
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
    if metric.name == "error_rate" and n_valid:
        means = [sum(v) / len(v) for v in (base, new)]
        floor = floor_sd(*means, paired, n_valid, means[1] - means[0] if effect is None else effect)
    return Spread(max(observed, floor), observed, floor, paired, n)


def plan(metric: Metric, base: Sequence[float], new: Sequence[float], paired: bool, settings: Settings = Settings(),
         amount: float | None = None, family: int = 1, n_valid: int | None = None, power: float = DEFAULT_POWER,
         max_seeds: int = MAX_SEEDS) -> Plan:
    """Seeds per side to detect ``amount`` (in the metric's unit; default: the observed change of new
    against base) with the spread of these values, at ``settings.alpha / family``."""
    change = metric.change(base, new) if amount is None else amount
    effect = effect_of(metric, abs(change))
    alpha = settings.alpha / max(1, family)

    def made(seeds: int | None, reason: str | None, spread: Spread | None) -> Plan:
        return Plan(seeds, reason, effect, spread, alpha, power, max_seeds)

    if abs(change) < minimum(metric, settings, n_valid):
        return made(None, BELOW_MINIMUM, None)
    spread = spread_of(metric, base, new, paired, n_valid, effect)
    if spread is None:
        return made(None, ONE_SEED, None)
    known = 2 * settings.session_var(metric)  # as the tests add it (recipebench.stats)
    if spread.sd <= 0 and known <= 0:
        return made(None, NO_SPREAD, spread)
    seeds = seeds_for(effect, spread.sd, alpha, power, paired, known, max_seeds)
    if seeds is None:
        return made(None, BEYOND_CAP if reachable(effect, alpha, power, known) else UNREACHABLE, spread)
    return made(seeds, None, spread)


def for_delta(delta: Delta, settings: Settings, family: int = 1, n_valid: int | None = None,
              power: float = DEFAULT_POWER) -> Plan:
    """A table row's plan: seeds per side at which its observed change would be significant."""
    return plan(delta.metric, delta.base, delta.new, delta.test.kind == PAIRED, settings, family=family,
                n_valid=n_valid, power=power)


#: The metric the tables' "seeds needed" column plans for.
COLUMN_METRIC = "error_rate"


def with_plans(rows: Sequence[RowComparison], settings: Settings, n_valid: int | None,
               power: float = DEFAULT_POWER) -> tuple[RowComparison, ...]:
    """The rows with :attr:`RowComparison.seeds_needed` for their error_rate change, planned at alpha over
    the number of rows tested in that column (their Holm family: what a lone real change must reach)."""
    family = sum(1 for r in rows if (d := r.delta(COLUMN_METRIC)) is not None and d.test.tested)
    return tuple(replace(r, seeds_needed=for_delta(d, settings, family, n_valid, power))
                 if (d := r.delta(COLUMN_METRIC)) is not None else r for r in rows)


def column_legend(settings: Settings, power: float = DEFAULT_POWER) -> str:
    """How to read the tables' "seeds needed" column."""
    return (f"seeds needed: seeds per side at which the observed Δ error_rate would be significant with "
            f"{power:.0%} power, at alpha {settings.alpha:g} / the rows tested (a lone real change must pass "
            "Holm's strictest step), from the per-seed spread (paired: of the differences), floored at the "
            "counting noise of the validation images (recipebench.power); -: below the practical minimum or one image; "
            f"> {MAX_SEEDS}: more; n=1: no spread to plan from (recipebench seeds RESULTS --delta 1pp plans a "
            "change you choose).")


def n_valid_of(results) -> int | None:
    """The validation set's size of these results (the smallest, where they differ: the coarser step)."""
    sizes = [r.n_valid for r in results if getattr(r, "n_valid", None)]
    return min(sizes) if sizes else None


# --- recipebench seeds: a change you choose, against the reference --------------------------------------------

SEEDS_HEADERS = ("recipe", "runs", "design", "per-seed sd", "seeds needed")
SEEDS_RAW_HEADERS = ("recipe", "runs", "design", "sd", "sd_observed", "sd_floor", "unit", "seeds_needed", "reason")


def _sd_text(spread: Spread, metric: Metric) -> str:
    unit = " pp" if metric.unit == "pp" else "%"  # a log-sd x 100 reads as a relative sd in %
    text = f"{100 * spread.sd:.2f}{unit}"
    return text + (f" (counting floor; observed {100 * spread.observed_sd:.2f})" if spread.floored else "")


def seeds_rows(results, metric: Metric, amount: float, settings: Settings, reference: str,
               power: float = DEFAULT_POWER, max_seeds: int = MAX_SEEDS) -> list[tuple[str, int, bool, Plan]]:
    """(label, successful runs, paired, plan) for every label of ``results``: the seeds per side to detect
    ``amount`` (the metric's unit) against ``reference`` (paired over the seeds both ran, as compare
    would); the reference itself with its own spread, unpaired (a change to it run on other seeds)."""
    from recipebench.compare import compare_groups
    from recipebench.results import STATUS_OK
    from recipebench.rows import grouped

    n_valid = n_valid_of(results)
    groups = {label: [r for r in g if r.status == STATUS_OK] for label, g in grouped(results).items()}
    ref = groups.get(reference, [])
    out = []
    for label, rows in groups.items():
        if not rows or not ref:
            continue
        (row,) = compare_groups({label: ref}, {label: rows}, settings)
        d = row.delta(metric.name)
        if d is None:
            continue
        own = label == reference
        paired = not own and (d.test.kind == PAIRED or {r.seed for r in rows} == {r.seed for r in ref})
        p = plan(metric, d.base, d.new, paired and d.test.kind == PAIRED, settings, amount, n_valid=n_valid,
                 power=power, max_seeds=max_seeds)
        out.append((label, len(rows), paired, p))
    return out


def seeds_report(results, metric: Metric, amount: float, settings: Settings, reference: str,
                 power: float = DEFAULT_POWER, fmt: str = "text", session: str = "",
                 max_seeds: int = MAX_SEEDS) -> str:
    """The ``recipebench seeds`` table and its legend."""
    from recipebench.tables import format_table

    n_valid = n_valid_of(results)
    rows = seeds_rows(results, metric, amount, settings, reference, power, max_seeds)
    counting = {}
    for label, _, paired, p in rows:  # one seed: what the counting noise alone would need (a lower bound)
        if p.reason == ONE_SEED and metric.name == "error_rate" and n_valid:
            counting[label] = _counting_only(results, label, reference, metric, p, paired, n_valid)
    if fmt == "csv":
        body = [[label, runs, "paired" if paired else "unpaired",
                 *((None, None, None) if p.spread is None else (p.spread.sd, p.spread.observed_sd, p.spread.floor_sd)),
                 "proportion" if metric.unit == "pp" else "log", p.seeds, p.reason] for label, runs, paired, p in rows]
        return format_table(SEEDS_RAW_HEADERS, body, fmt)

    def cell(label: str, p: Plan) -> str:
        if p.reason == ONE_SEED:
            alone = counting.get(label)
            return "n=1: spread unknown" + ("" if alone is None else f" (counting noise alone: {alone})")
        return p.text()

    body = [[label + (" (reference)" if label == reference else ""), runs, "paired" if paired else "unpaired",
             "-" if p.spread is None else _sd_text(p.spread, metric), cell(label, p)]
            for label, runs, paired, p in rows]
    change = metric.format(amount).lstrip("+").replace(" ", "")
    smallest = minimum(metric, settings, n_valid)
    legend = [
        f"seeds needed per side to detect a change of {change} in {metric.name} against {reference}, with power "
        f"{power:g} at alpha {settings.alpha:g} (two-sided t-test: paired over the seeds both ran, else unpaired), "
        f"from the per-seed spread in {session or 'these results'}; {reference}'s own row: a change to it, run "
        "on other seeds.",
        "per-seed sd: of the differences from the reference (paired), or the pooled sd of one run (unpaired)"
        + (f"; for error_rate at least the counting noise of {n_valid} validation images (counting floor: "
           "binomial for one run; paired, of the images that must differ, as coin flips)"
           if metric.name == "error_rate" and n_valid else "") + ".",
        f"one comparison: a table Holm-adjusts over its m rows, so for a lone change among them plan with "
        f"--alpha {settings.alpha:g}/m; > {max_seeds}: more than {max_seeds}.",
    ]
    if settings.session_var(metric):
        legend.append(f"{metric.header}: a session-to-session drift of {settings.session_noise:.0%} on each side is "
                      "added (--session-noise; 0% when both sides run in one session); never: that drift alone "
                      "hides the change, whatever the seeds.")
    if amount < smallest:
        legend.append(f"-: {change} is below the practical minimum ({metric.format(smallest).lstrip('+')}"
                      + (", one image" if metric.name == "error_rate" and n_valid and smallest == 100 / n_valid else "")
                      + "): no number of seeds makes it a verdict.")
    once = [label for label, _, _, p in rows if p.reason == ONE_SEED]
    if once:
        legend.append(f"{', '.join(once)}: one seed shows no spread, so the seeds needed are unknown; run "
                      f"{SEEDS_TO_MEASURE} seeds (2 at the least) of each to measure it, e.g. --seeds "
                      f"{SEEDS_TO_MEASURE}" + ("; counting noise alone: the fewest the error rate's counting "
                                               "would allow, a lower bound" if counting else "") + ".")
    item = "- " if fmt == "markdown" else ""
    return "\n".join([format_table(SEEDS_HEADERS, body, fmt), "", *(item + line for line in legend)])


def _counting_only(results, label: str, reference: str, metric: Metric, p: Plan, paired: bool,
                   n_valid: int) -> str:
    """With one seed: the seeds the counting noise alone would need (the spread's floor as the spread)."""
    from recipebench.results import STATUS_OK
    from recipebench.rows import grouped

    groups = grouped(results)
    means = [sum(r.error_rate for r in g if r.status == STATUS_OK) / sum(r.status == STATUS_OK for r in g)
             for g in (groups[reference], groups[label])]
    sd = floor_sd(*means, paired, n_valid, p.effect)
    seeds = seeds_for(p.effect, sd, p.alpha, p.power, paired, 0.0, p.max_seeds)
    return f"> {p.max_seeds}" if seeds is None else str(seeds)


# --- the check: planned seeds against simulated pairs ---------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """For a true difference of ``delta_pp``: the planned seeds and how often simulated pairs caught it."""

    delta_pp: float
    paired: bool
    rows: int  # the table's rows: the changed one among rows - 1 unchanged (a Holm family of ``rows``)
    seeds: int | None
    planned_power: float | None  # the formula's power at ``seeds``
    significant: float | None  # share of simulated pairs with p < alpha
    verdict: float | None  # share whose compare verdict was not "within noise" (also needs the minimum)
    trials: int


def check(deltas_pp: Sequence[float] = (2.0, 3.0, 5.0), trials: int = 2000, power: float = DEFAULT_POWER,
          settings: Settings = Settings(), paired_designs: Sequence[bool] = (False, True), rng_seed: int = 0,
          model=None, rows: int = 1) -> list[Check]:
    """Plan the seeds for each true difference (error_rate, pp) from the noise model's counting spread, then
    simulate ``trials`` pairs of result sets with it (:mod:`recipebench.noise`'s model and its A/A
    machinery) through the real comparison, and count how often the changed row was significant
    (Holm-adjusted p < alpha) and how often its verdict said so. The tables have ``rows`` rows: the
    first, at the model's lowest error rate, ``delta`` higher in new; the others unchanged (A/A); the
    plan is at alpha / rows, as the tables' column plans. Paired: both sides run the same seeds (the
    model draws each run's counting noise afresh, so pairing gains nothing here: the check is of the
    paired test's arithmetic)."""
    import numpy as np

    from recipebench.compare import NOISE, METRICS, compare_groups
    from recipebench.noise import NoiseModel, Shift, _side

    model = model or NoiseModel()
    table, changed = replace(model, labels=rows), replace(model, labels=1)  # changed: the table's first row
    alpha = settings.alpha / rows
    error_rate = next(m for m in METRICS if m.name == "error_rate")
    out = []
    for paired_design in paired_designs:
        for delta in deltas_pp:
            rng = np.random.default_rng(rng_seed)
            p = model.error_rates[0]
            # the spread the plan expects: each run's binomial counting noise (the model's seed_sd on top)
            q = p + delta / 100
            sd_diff = math.sqrt(p * (1 - p) / model.n_valid + q * (1 - q) / model.n_valid
                                + 2 * (model.seed_sd_pp / 100) ** 2)  # of one run's from the other's
            sd = sd_diff if paired_design else sd_diff / math.sqrt(2)  # unpaired: the pooled sd of one run
            seeds = seeds_for(delta / 100, sd, alpha, power, paired_design)
            if seeds is None:
                out.append(Check(delta, paired_design, rows, None, None, None, None, trials))
                continue
            planned = float(power_at(seeds, delta / 100, sd, alpha, paired_design))
            hits = verdicts = 0
            for _ in range(trials):
                base = _side(table, range(seeds), Shift(), rng)
                new_seeds = range(seeds) if paired_design else range(seeds, 2 * seeds)
                new = {**_side(table, new_seeds, Shift(), rng), **_side(changed, new_seeds, Shift(error_pp=delta), rng)}
                d = compare_groups(base, new, settings)[0].delta(error_rate.name)
                hits += d.p is not None and d.p < settings.alpha
                verdicts += d.verdict != NOISE
            out.append(Check(delta, paired_design, rows, seeds, planned, hits / trials, verdicts / trials, trials))
    return out


def check_table(checks: Sequence[Check], fmt: str = "markdown") -> str:
    from recipebench.tables import format_table

    def share(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    body = [[f"+{c.delta_pp:g} pp", "paired" if c.paired else "unpaired (other seeds)", c.rows,
             "-" if c.seeds is None else c.seeds, share(c.planned_power), share(c.significant), share(c.verdict)]
            for c in checks]
    return format_table(["true Δ error_rate", "design", "rows (Holm)", "planned seeds per side", "planned power",
                         "simulated: p < alpha", "simulated: verdict not within noise"], body, fmt)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recipebench.power", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", required=True,
                        help="plan seeds for a few true differences and simulate pairs with them")
    parser.add_argument("--trials", type=int, default=2000, help="simulated pairs per row (default 2000)")
    parser.add_argument("--deltas", default="2,3,5", help="true differences of error_rate in pp, comma-separated")
    parser.add_argument("--power", type=float, default=DEFAULT_POWER, help="the power to plan for (default 0.8)")
    parser.add_argument("--rows", default="1,9", help="table rows (the Holm family), comma-separated (default 1,9)")
    parser.add_argument("--format", default="markdown", choices=("markdown", "text", "csv"),
                        help="the table's format (default markdown)")
    args = parser.parse_args(argv)
    from recipebench.noise import NoiseModel

    model, settings = NoiseModel(), Settings()
    checks = [c for rows in (int(r) for r in args.rows.split(","))
              for c in check([float(d) for d in args.deltas.split(",")], args.trials, args.power, rows=rows)]
    print(check_table(checks, args.format))
    print(f"\n{args.trials} simulated pairs per line through recipebench.compare, alpha {settings.alpha:g} "
          f"(planned at alpha / rows); the changed row's base error rate {model.error_rates[0]:g} on "
          f"{model.n_valid} validation images, counting noise only (recipebench.noise's model, seed sd "
          f"{model.seed_sd_pp} pp); rng seed 0.")
    return 0

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
