"""The ``recipebench seeds`` table and its legend, and the table of the plan's simulated check."""
from __future__ import annotations

from typing import Sequence

from recipebench.analysis import power
from recipebench.analysis.compare import Metric, Settings
from recipebench.analysis.seeds import Check, SeedsRow, seeds_rows
from recipebench.record.results import RunResult
from recipebench.render.tables import format_table

SEEDS_HEADERS = ("recipe", "runs", "design", "per-seed sd", "seeds needed")
SEEDS_RAW_HEADERS = ("recipe", "runs", "design", "sd", "sd_observed", "sd_floor", "unit", "seeds_needed", "reason")


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
    counted = metric.counts_over == "n_valid" and n_valid
    smallest = max(settings.minimum(metric), 100 / n_valid if counted else 0.0)
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


def check_table(checks: Sequence[Check], fmt: str = "markdown") -> str:
    def share(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    body = [[f"+{c.delta_pp:g} pp", "paired" if c.paired else "unpaired (other seeds)", c.rows,
             "-" if c.seeds is None else c.seeds, share(c.planned_power), share(c.significant), share(c.verdict)]
            for c in checks]
    return format_table(["true Δ error_rate", "design", "rows (Holm)", "planned seeds per side", "planned power",
                         "simulated: p < alpha", "simulated: verdict not within noise"], body, fmt)
