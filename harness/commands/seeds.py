"""``recipebench seeds RESULTS... --delta 1pp``: per recipe, the seeds needed to detect that change; ``--check``: the plan
against simulated pairs (docs/statistics-seeds.md)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recipebench.analysis import compare, power
from recipebench.analysis.metrics import DEFAULT_METRIC
from recipebench.analysis.rows import grouped
from recipebench.commands import arguments
from recipebench.commands.arguments import RESULTS_HELP, check_reference, load
from recipebench.render.tables import FORMATS
from recipebench.suite.options import UsageError

NAME = "seeds"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="RESULTS... --delta 1pp: per recipe, the seeds needed to detect that change",
        description="For each recipe and sub-result: the seeds per side at which a change of --delta against the "
                    "reference would be significant (two-sided t-test, paired over shared seeds) with the given "
                    "power, from the results' own per-seed spread (error_rate's at least the counting noise of the "
                    "validation images). With one seed there is no spread: it says so, and how many to run. "
                    "--check instead plans seeds for a few true differences of error_rate and simulates pairs of "
                    "result sets with them through the real comparison (recipebench.analysis.noise's model): the "
                    "planned seeds should catch the difference in about the promised share of pairs.")
    p.add_argument("results", nargs="*", type=Path, metavar="RESULTS", help=RESULTS_HELP + " (all pooled)")
    p.add_argument("--delta", metavar="AMOUNT",
                   help="the change to detect: percentage points for error_rate (1pp), percent for wall, throughput "
                        "and memory (10%%: a ratio, on log scale)")
    p.add_argument("--metric", default=DEFAULT_METRIC,
                   help=f"the figure the change is in: a metric the results recorded (default {DEFAULT_METRIC}), "
                        "or wall, throughput, memory")
    p.add_argument("--power", type=arguments.share, default=power.DEFAULT_POWER,
                   help="the chance of detecting it to plan for (default 0.8)")
    p.add_argument("--alpha", type=arguments.alpha, default=compare.DEFAULT_ALPHA,
                   help=f"significance level of the test (default {compare.DEFAULT_ALPHA})")
    p.add_argument("--session-noise", type=arguments.percent, default=compare.DEFAULT_SESSION_NOISE,
                   metavar="PERCENT",
                   help="session-to-session drift of timings and memory added to each side, as compare does "
                        f"(default {compare.DEFAULT_SESSION_NOISE:.0%}; 0%% when both sides run in one session)"
                   .replace("%;", "%%;"))
    p.add_argument("--reference", default=None, metavar="NAME",
                   help="the recipe the changes are against (default baseline)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="text (default; markdown with --check), markdown, or csv (raw numbers: sd as a proportion "
                        "or a log-sd)")
    p.add_argument("--force", action="store_true", help="pool results even when a recipe x seed appears twice")
    p.add_argument("--check", action="store_true",
                   help="no RESULTS: plan seeds for a few true differences and simulate pairs with them")
    p.add_argument("--trials", type=int, default=2000, help="--check: simulated pairs per line (default 2000)")
    p.add_argument("--deltas", default="2,3,5", help="--check: true differences of error_rate in pp (default 2,3,5)")
    p.add_argument("--rows", default="1,9", help="--check: table rows (the Holm family), comma-separated (default 1,9)")
    return p


def _check(args: argparse.Namespace) -> int:
    from recipebench.analysis import seeds
    from recipebench.analysis.noise import NoiseModel
    from recipebench.render.seeds import check_table

    model, settings = NoiseModel(), compare.Settings()
    checks = [c for rows in (int(r) for r in args.rows.split(","))
              for c in seeds.check([float(d) for d in args.deltas.split(",")], args.trials, args.power, rows=rows)]
    print(check_table(checks, args.format or "markdown"))
    print(f"\n{args.trials} simulated pairs per line through recipebench.analysis.compare, alpha {settings.alpha:g} "
          f"(planned at alpha / rows); the changed row's base error rate {model.error_rates[0]:g} on "
          f"{model.n_valid} validation images, counting noise only (recipebench.analysis.noise's model, seed sd "
          f"{model.seed_sd_pp} pp); rng seed 0.")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.check:
        if args.results:
            raise UsageError("--check simulates its own result sets: give no RESULTS with it")
        return _check(args)
    if not args.results or args.delta is None:
        raise UsageError("give RESULTS... and --delta AMOUNT (e.g. --delta 1pp), or --check")
    from recipebench.analysis.ranking import DEFAULT_REFERENCE
    from recipebench.render.seeds import seeds_report

    results = list(load(args.results, NAME).results)
    metrics = compare.metrics_of(results)
    try:
        metric = compare.metric_named(args.metric, metrics)
    except compare.CompareError:
        raise UsageError(f"--metric {args.metric}: not a metric of these results; choose one of "
                         f"{', '.join(m.name for m in metrics)}") from None
    try:
        amount = compare.Threshold.parse(f"{metric.name}:{args.delta}", signed=False, metrics=metrics).amount
    except compare.CompareError:
        unit, other = ("pp, e.g. 1pp", "%: add --metric wall (or throughput, memory)") if metric.unit == "pp" else (
            "%, e.g. 10%", "pp: add --metric error_rate")
        raise UsageError(f"--delta {args.delta}: {metric.name} changes in {unit}; for a change in {other}") from None
    notes = compare.check_no_repeats(" ".join(map(str, args.results)), results, args.force)
    check_reference(results, args.reference)
    reference = args.reference or DEFAULT_REFERENCE
    if reference not in grouped(results):
        raise UsageError(f"no {reference} in these results to plan against: choose one with --reference NAME")
    settings = compare.Settings(args.alpha, session_noise=args.session_noise)
    print(seeds_report(results, metric, amount, settings, reference, args.power, args.format or "text",
                       " ".join(map(str, args.results))))
    for note in notes:
        print(note, file=sys.stderr)
    return 0
