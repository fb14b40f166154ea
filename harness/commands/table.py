"""``recipebench table RESULTS...``: the session table and the ranking against a reference recipe."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recipebench.analysis import compare
from recipebench.commands.arguments import RESULTS_HELP, add_options, check_metric, check_reference, load
from recipebench.render import session_table
from recipebench.render.tables import FORMATS
from recipebench.suite.options import TABLE_OPTIONS

NAME = "table"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="RESULTS...: the session table and the ranking against a reference recipe",
                       description="The session table of saved results: each recipe's numbers, then every recipe "
                                   "and sub-result against a reference recipe (Δ error_rate, wall and memory ratios "
                                   "with paired t-tests, a verdict) with its time to a target error rate.")
    p.add_argument("results", nargs="+", type=Path, metavar="RESULTS", help=RESULTS_HELP + " (all pooled)")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), markdown (GitHub), or csv (raw numbers, one column each)")
    add_options(p, TABLE_OPTIONS)
    p.add_argument("--force", action="store_true",
                   help="pool results even when a recipe x seed appears more than once (several sessions), "
                        "or they mix workloads, scales, devices or the data trained on")
    return p


def run(args: argparse.Namespace) -> int:
    results = list(load(args.results, NAME).results)
    name = " ".join(map(str, args.results))
    notes = compare.check_uniform(name, results, args.force) + compare.check_no_repeats(name, results, args.force)
    check_reference(results, args.reference)
    metric = check_metric(results, args.metric)
    print(session_table.session_report(results, fmt=args.format, reference=args.reference,
                                       target_error=args.target_error, metric=metric))
    for note in notes:
        print(note, file=sys.stderr)
    return 0
