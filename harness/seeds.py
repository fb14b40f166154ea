"""``recipebench seeds``: how many seeds to detect a change you choose, and the check that the plan holds.

For each recipe and sub-result of one result set: the seeds per side at which a change of ``--delta``
against the reference would be significant with the given power, from the results' own per-seed
spread (:mod:`recipebench.power` does the arithmetic, :func:`recipebench.compare.plan_seeds` applies
it to a row as compare would test it).

``python -m recipebench.seeds --check`` plans the seeds for a few true differences of error_rate
and simulates pairs of result sets with them (the A/A machinery of :mod:`recipebench.noise`) through
the real comparison: the planned seeds should catch the difference in about the promised share of
pairs (docs/statistics-seeds.md).
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, replace
from typing import Sequence

from recipebench import power
from recipebench.compare import NOISE, Metric, Settings, compare_groups, plan_seeds
from recipebench.results import STATUS_OK, RunResult
from recipebench.rows import grouped
from recipebench.stats import PAIRED
from recipebench.tables import format_table

SEEDS_HEADERS = ("recipe", "runs", "design", "per-seed sd", "seeds needed")
SEEDS_RAW_HEADERS = ("recipe", "runs", "design", "sd", "sd_observed", "sd_floor", "unit", "seeds_needed", "reason")


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
    counted_on = n_valid if metric.name == "error_rate" else None
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


def _sd_text(spread: power.Spread, metric: Metric) -> str:
    unit = " pp" if metric.unit == "pp" else "%"  # a log-sd x 100 reads as a relative sd in %
    text = f"{100 * spread.sd:.2f}{unit}"
    return text + (f" (counting floor; observed {100 * spread.observed_sd:.2f})" if spread.floored else "")


def _cell(row: SeedsRow) -> str:
    if row.plan.reason != power.ONE_SEED:
        return row.plan.text()
    alone = "" if row.counting_only is None else f" (counting noise alone: {row.counting_only})"
    return "n=1: spread unknown" + alone


def seeds_report(results: Sequence[RunResult], metric: Metric, change: float, settings: Settings, reference: str,
                 target_power: float = power.DEFAULT_POWER, fmt: str = "text", where: str = "") -> str:
    """The ``recipebench seeds`` table and its legend (csv: raw numbers, no legend)."""
    n_valid = power.n_valid_of(results)
    rows = seeds_rows(results, metric, change, settings, reference, target_power)
    if fmt == "csv":
        body = [[r.label, r.runs, "paired" if r.paired else "unpaired",
                 *((None, None, None) if r.plan.spread is None else
                   (r.plan.spread.sd, r.plan.spread.observed_sd, r.plan.spread.floor_sd)),
                 "log" if metric.log else "proportion", r.plan.seeds, r.plan.reason] for r in rows]
        return format_table(SEEDS_RAW_HEADERS, body, fmt)
    body = [[r.label + (" (reference)" if r.label == reference else ""), r.runs, "paired" if r.paired else "unpaired",
             "-" if r.plan.spread is None else _sd_text(r.plan.spread, metric), _cell(r)] for r in rows]
    amount = metric.format(change).lstrip("+").replace(" ", "")
    counted = metric.name == "error_rate" and n_valid
    smallest = max(settings.min_effects[metric.name], 100 / n_valid if counted else 0.0)
    legend = [
        f"seeds needed per side to detect a change of {amount} in {metric.name} against {reference}, with power "
        f"{target_power:g} at alpha {settings.alpha:g} (two-sided t-test: paired over the seeds both ran, else "
        f"unpaired), from the per-seed spread in {where or 'these results'}; {reference}'s own row: a change to "
        "it, run on other seeds.",
        "per-seed sd: of the differences from the reference (paired), or the pooled sd of one run (unpaired)"
        + (f"; error_rate's at least the counting noise of {n_valid} validation images (counting floor: "
           "binomial for one run; paired, of the images that must differ, as coin flips)" if counted else "") + ".",
        f"one comparison: a table Holm-adjusts over its m rows, so for a lone change among them plan with "
        f"--alpha {settings.alpha:g} / m (--alpha {settings.alpha / 9:.2g} for 9 rows); > {power.MAX_SEEDS}: more "
        f"than {power.MAX_SEEDS}.",
    ]
    if settings.session_var(metric):
        legend.append(f"{metric.header}: a session-to-session drift of {settings.session_noise:.0%} on each side is "
                      "added (--session-noise; 0% when both sides run in one session); never: that drift alone "
                      "hides the change, whatever the seeds.")
    if change < smallest:
        one_image = ", one image" if counted and smallest == 100 / n_valid else ""
        legend.append(f"-: {amount} is below the practical minimum ({metric.format(smallest).lstrip('+')}"
                      f"{one_image}): no number of seeds makes it a verdict.")
    once = [r for r in rows if r.plan.reason == power.ONE_SEED]
    if once:
        legend.append(f"{', '.join(r.label for r in once)}: one seed shows no spread, so the seeds needed are "
                      f"unknown; run {power.SEEDS_TO_MEASURE} seeds (2 at the least) of each to measure it "
                      f"(pytest recipes/ --benchmark-only --seeds {power.SEEDS_TO_MEASURE})"
                      + ("; counting noise alone: what the error rate's counting needs at the least"
                         if any(r.counting_only for r in once) else "") + ".")
    item = "- " if fmt == "markdown" else ""
    return "\n".join([format_table(SEEDS_HEADERS, body, fmt), "", *(item + line for line in legend)])


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
    simulate ``trials`` pairs of result sets with it (:mod:`recipebench.noise`'s model and its A/A
    machinery) through the real comparison, and count how often the changed row was significant
    (Holm-adjusted p < alpha) and how often its verdict said so. The tables have ``rows`` rows: the
    first, at the model's lowest error rate, ``delta`` higher in new; the others unchanged (A/A); the
    plan is at alpha / rows, as the tables' column plans. Paired: both sides run the same seeds (the
    model draws each run's counting noise afresh, so pairing gains nothing here: the check is of the
    paired test's arithmetic)."""
    import numpy as np

    from recipebench.noise import NoiseModel, Shift, _side

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


def check_table(checks: Sequence[Check], fmt: str = "markdown") -> str:
    def share(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    body = [[f"+{c.delta_pp:g} pp", "paired" if c.paired else "unpaired (other seeds)", c.rows,
             "-" if c.seeds is None else c.seeds, share(c.planned_power), share(c.significant), share(c.verdict)]
            for c in checks]
    return format_table(["true Δ error_rate", "design", "rows (Holm)", "planned seeds per side", "planned power",
                         "simulated: p < alpha", "simulated: verdict not within noise"], body, fmt)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recipebench.seeds", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", required=True,
                        help="plan seeds for a few true differences and simulate pairs with them")
    parser.add_argument("--trials", type=int, default=2000, help="simulated pairs per line (default 2000)")
    parser.add_argument("--deltas", default="2,3,5", help="true differences of error_rate in pp, comma-separated")
    parser.add_argument("--power", type=float, default=power.DEFAULT_POWER, help="the power to plan for (default 0.8)")
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
