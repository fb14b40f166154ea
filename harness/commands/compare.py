"""``recipebench compare BASE NEW``: per recipe and sub-result, with a t-test across seeds, and the gate (--fail-on)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recipebench.analysis import compare
from recipebench.commands import arguments
from recipebench.commands.arguments import add_options, check_reference, load
from recipebench.render import comparison
from recipebench.render.tables import FORMATS
from recipebench.suite.options import TABLE_OPTIONS

NAME = "compare"


def add_compare_options(p: argparse.ArgumentParser) -> None:
    """The options of a comparison and its gate (``compare``'s, and ``ab``'s, which ends in one)."""
    examples = ", ".join(m.example for m in compare.DEFAULT_METRICS).replace("%", "%%")  # argparse formats % in help
    p.add_argument("--format", choices=(*FORMATS, "github"), default="markdown",
                   help="markdown (a GitHub table to paste into a pull request; default), text, csv, or github "
                        "(a pull-request comment: a one-line summary, the table, the legend folded, a marker)")
    p.add_argument("--fail-on", action="append", default=[], type=arguments.fail_on,
                   metavar="METRIC:THRESHOLD|failed",
                   help=f"exit 1 when a recipe regresses past this (repeatable), e.g. {examples} (or any metric the "
                        "results recorded); significance "
                        "is required where both sides have two or more seeds. With any of them, a recipe whose "
                        "every new run failed fails too; 'failed' also fails one where some new runs failed")
    p.add_argument("--alpha", type=arguments.alpha, default=compare.DEFAULT_ALPHA,
                   help=f"significance level of the verdicts and --fail-on (default {compare.DEFAULT_ALPHA})")
    p.add_argument("--min-effect", action="append", default=[], type=arguments.min_effect, metavar="METRIC:AMOUNT",
                   help="the smallest change a verdict calls better or worse (repeatable; defaults: "
                        + ", ".join(f"{m.name}:{m.format(m.min_effect).lstrip('+').replace(' ', '')}"
                                    for m in compare.DEFAULT_METRICS).replace("%", "%%")
                        + "; a plugin's metric: its own)")
    p.add_argument("--session-noise", type=arguments.percent, default=compare.DEFAULT_SESSION_NOISE,
                   metavar="PERCENT",
                   help="how much a whole session's timings and memory drift with the machine's state, which "
                        f"seeds cannot show; added to the tests of wall s, img/s and peak MB (default "
                        f"{compare.DEFAULT_SESSION_NOISE:.0%})".replace("%)", "%%)"))
    add_options(p, TABLE_OPTIONS)
    p.add_argument("--force", action="store_true",
                   help="compare even across workloads, scales or devices, or with a seed repeated on a side")


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="BASE NEW: per recipe and sub-result, with a t-test across seeds",
        description="Compare NEW against BASE (each a results folder, a result file or a pytest-benchmark JSON "
                    "file): error_rate Δ in percentage points, wall s, img/s and peak MB Δ in %, each with a "
                    "t-test across seeds (Welch's, or paired when both sides ran the same seeds; Holm-adjusted), "
                    "each side's time to a target error rate, and a verdict: better, worse or within noise.")
    p.add_argument("base", type=Path, help="the reference results (e.g. results/baseline/)")
    p.add_argument("new", type=Path, help="the results to judge (e.g. results/new/)")
    add_compare_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    base = compare.Side(str(args.base), load([args.base], NAME).results)
    new = compare.Side(str(args.new), load([args.new], NAME).results)
    both = [*base.results, *new.results]
    metrics = compare.metrics_of(both)  # what the results recorded: their plugins need not be installed here
    metric = arguments.check_metric(both, args.metric)
    minimums = arguments.thresholds(args.min_effect, metrics, signed=False)
    gates = arguments.thresholds(args.fail_on, metrics)
    settings = compare.Settings(args.alpha, {t.metric.name: t.amount for t in minimums}, args.session_noise, metric)
    compared = compare.compare(base, new, settings, force=args.force)
    check_reference(base.results, args.reference)
    target = comparison.compare_target(compared, args.reference, args.target_error)
    failed = compare.violations(compared, gates)
    if args.format == "github":
        from recipebench.render import github_comment

        print(github_comment.body(compared, target, failed, gates))
    else:
        print(comparison.compare_report(compared, args.format, target))
    for v in failed:
        print(f"recipebench: regression: {v}", file=sys.stderr)
    return 1 if failed else 0
