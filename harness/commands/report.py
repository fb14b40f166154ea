"""``recipebench report SET [SET] --out DIR``: report.md and report.html with charts (two sets: base, new)."""
from __future__ import annotations

import argparse
from pathlib import Path

from recipebench.analysis import compare
from recipebench.commands.arguments import RESULTS_HELP, add_options, check_metric, check_reference, load
from recipebench.suite.options import TABLE_OPTIONS, UsageError

NAME = "report"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME,
                       help="SET [SET] --out DIR: report.md and report.html with charts (two sets: base, new)",
                       description="Write report.md (renders on GitHub, beside its PNGs) and a self-contained "
                                   "report.html into DIR: the ranking against the reference with time to target, "
                                   "the session table, charts (error rate per epoch, losses, lr_find, error rate "
                                   "against wall time) and the most-confused pairs. With two sets (base and new, "
                                   "or two torch versions): the compare table and the charts side by side.")
    p.add_argument("sets", nargs="+", type=Path, metavar="SET", help=RESULTS_HELP + "; two: base, then new")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="the folder to write into (made if needed; an earlier report there is never overwritten)")
    add_options(p, TABLE_OPTIONS)
    p.add_argument("--force", action="store_true",
                   help="compare across workloads, scales or devices, or pool a recipe x seed that appears twice")
    return p


def run(args: argparse.Namespace) -> int:
    from recipebench.render import charts
    from recipebench.render import report as document

    if len(args.sets) > 2:
        raise UsageError(f"{len(args.sets)} result sets: give one, or two (base and new)")
    tags = ("base", "new") if len(args.sets) == 2 else ("",)
    sets = [charts.ResultSet(str(p), load([p], NAME).results, tag) for p, tag in zip(args.sets, tags)]
    for s in sets:
        compare.check_no_repeats(s.name, s.results, args.force)
        check_reference(s.results, args.reference)
    metric = check_metric([r for s in sets for r in s.results], args.metric)
    if len(sets) == 1:
        blocks = document.single_report(sets[0], args.reference, args.target_error, metric)
    else:
        blocks = document.pair_report(sets[0], sets[1], args.reference, args.target_error,
                                      compare.Settings(metric=metric), args.force)
    for path in document.write(blocks, args.out):
        print(path)
    return 0
