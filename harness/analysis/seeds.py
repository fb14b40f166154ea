"""How many seeds to detect a change you choose, and the check that the plan holds.

For each recipe and sub-result of one result set: the seeds per side at which a change of ``--delta``
against the reference would be significant with the given power, from the results' own per-seed
spread (:mod:`recipebench.analysis.power` does the arithmetic, :func:`recipebench.analysis.compare.plan_seeds` applies
it to a row as compare would test it).

``recipebench seeds --check`` plans the seeds for a few true differences of error_rate
and simulates pairs of result sets with them (the A/A machinery of :mod:`recipebench.analysis.noise`) through
the real comparison: the planned seeds should catch the difference in about the promised share of
pairs (docs/statistics-seeds.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

from recipebench.analysis import power
from recipebench.analysis.compare import NOISE, Metric, Settings, compare_groups, metrics_of, plan_seeds
from recipebench.record.results import STATUS_OK, RunResult
from recipebench.analysis.rows import grouped
from recipebench.analysis.stats import PAIRED



@dataclass(frozen=True)
class SeedsRow:
    """One label's plan against the reference."""

    label: str
    runs: int  # successful runs
    paired: bool  # the design a comparison with the reference would have (the same seeds)
    plan: power.Plan
    counting_only: str | None = None  # one seed: the seeds counting noise alone would need ("12", "> 100")


def seeds_rows(results: Sequence[RunResult], metric: Metric, change: float, settings: Settings, reference: str,
               target_power: float = power.DEFAULT_POWER) -> list[SeedsRow]:
    """Every label of ``results`` against ``reference``: the seeds per side to detect ``change`` (the metric's
    unit), paired over the seeds both ran as compare would; the reference itself with its own spread,
    unpaired (a change to it, run on other seeds)."""
    n_valid = power.n_valid_of(results)
    counted_on = n_valid if metric.counts_over == "n_valid" else None
    groups = {label: [r for r in g if r.status == STATUS_OK] for label, g in grouped(results).items()}
    ref = groups.get(reference, [])
    out = []
    for label, rows in groups.items():
        if not rows or not ref:
            continue
        (row,) = compare_groups({label: ref}, {label: rows}, settings, metrics_of(results))
        d = row.delta(metric.name)
        if d is None:
            continue
        own = label == reference
        paired = not own and {r.seed for r in rows} == {r.seed for r in ref}
        plan = plan_seeds(d, settings, n_valid=n_valid, change=change, paired=d.test.kind == PAIRED and not own,
                          target_power=target_power)
        alone = None
        if plan.reason == power.ONE_SEED and counted_on:  # one seed: what counting noise alone would need
            base_mean, new_mean = (sum(v) / len(v) for v in (d.base, d.new))
            need = power.seeds_for(plan.effect, power.floor_sd(base_mean, new_mean, paired, counted_on, plan.effect),
                                   plan.alpha, plan.power, paired, 2 * settings.session_var(metric))
            alone = f"> {power.MAX_SEEDS}" if need is None else str(need)
        out.append(SeedsRow(label, len(rows), paired, plan, alone))
    return out


# --- the check: planned seeds against simulated pairs ---------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """For a true difference of ``delta_pp``: the planned seeds and how often simulated pairs caught it."""

    delta_pp: float
    paired: bool
    rows: int  # the table's rows: the changed one among rows - 1 unchanged (a Holm family of ``rows``)
    seeds: int | None
    planned_power: float | None  # the formula's power at ``seeds``
    significant: float | None  # share of simulated pairs whose changed row had p < alpha (Holm-adjusted)
    verdict: float | None  # share whose verdict was not "within noise" (which also needs the practical minimum)
    trials: int


def check(deltas_pp: Sequence[float] = (2.0, 3.0, 5.0), trials: int = 2000,
          target_power: float = power.DEFAULT_POWER, settings: Settings = Settings(),
          paired_designs: Sequence[bool] = (False, True), rng_seed: int = 0, model=None, rows: int = 1) -> list[Check]:
    """Plan the seeds for each true difference (error_rate, pp) from the noise model's counting spread, then
    simulate ``trials`` pairs of result sets with it (:mod:`recipebench.analysis.noise`'s model and its A/A
    machinery) through the real comparison, and count how often the changed row was significant
    (Holm-adjusted p < alpha) and how often its verdict said so. The tables have ``rows`` rows: the
    first, at the model's lowest error rate, ``delta`` higher in new; the others unchanged (A/A); the
    plan is at alpha / rows, as the tables' column plans. Paired: both sides run the same seeds (the
    model draws each run's counting noise afresh, so pairing gains nothing here: the check is of the
    paired test's arithmetic)."""
    import numpy as np

    from recipebench.analysis.noise import NoiseModel, Shift, _side

    model = model or NoiseModel()
    table, changed = replace(model, labels=rows), replace(model, labels=1)  # changed: the table's first row
    alpha = settings.alpha / rows
    out = []
    for paired_design in paired_designs:
        for delta in deltas_pp:
            rng = np.random.default_rng(rng_seed)
            p, q = model.error_rates[0], model.error_rates[0] + delta / 100
            # the spread the model makes: each run's binomial counting noise (and its seed sd, if any)
            sd_diff = math.sqrt(p * (1 - p) / model.n_valid + q * (1 - q) / model.n_valid
                                + 2 * (model.seed_sd_pp / 100) ** 2)  # of one run's from the other's
            sd = sd_diff if paired_design else sd_diff / math.sqrt(2)  # unpaired: the pooled sd of one run
            seeds = power.seeds_for(delta / 100, sd, alpha, target_power, paired_design)
            if seeds is None:
                out.append(Check(delta, paired_design, rows, None, None, None, None, trials))
                continue
            planned = float(power.power_at(seeds, delta / 100, sd, alpha, paired_design))
            hits = verdicts = 0
            for _ in range(trials):
                base = _side(table, range(seeds), Shift(), rng)
                new_seeds = range(seeds) if paired_design else range(seeds, 2 * seeds)
                new = {**_side(table, new_seeds, Shift(), rng), **_side(changed, new_seeds, Shift(error_pp=delta), rng)}
                d = compare_groups(base, new, settings)[0].delta("error_rate")
                hits += d.p is not None and d.p < settings.alpha
                verdicts += d.verdict != NOISE
            out.append(Check(delta, paired_design, rows, seeds, planned, hits / trials, verdicts / trials, trials))
    return out
