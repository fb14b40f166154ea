"""The ``recipebench`` command (also ``python -m recipebench``).

    recipebench list                       recipes, workloads and archs, with the plugin of each
    recipebench table RESULTS...           the summary table of saved results
    recipebench plot RESULTS... -o FILE    error_rate per epoch and lr_find curves
    recipebench compare BASE NEW           base against new, per recipe, with a test across seeds
    recipebench matrix RESULTS... --by F   recipes x the values of a recorded field (torch, fastai...)

A bad argument is a usage error (exit status 2); ``compare --fail-on`` exits 1 on a regression.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Sequence

from recipebench import compare, matrix, render, report
from recipebench.registry import PluginError, load_registry
from recipebench.store import ResultsError, load_results
from recipebench.tables import FORMATS


def _options_text(recipe) -> str:
    return "; ".join(f"{key}={o.default}" + (f" ({'|'.join(map(str, o.choices))})" if o.choices else "")
                     for key, o in recipe.options.items())


def _cmd_list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    registry = load_registry(args.plugins_dir)
    print("recipes:")
    print(tabulate(
        [(name, r.item.summary, r.item.arch_role, r.item.precision, _options_text(r.item), f"{r.plugin} [{r.origin}]")
         for name, r in registry.recipes.items()],
        headers=("name", "calls", "arch", "precision", "options (--recipe-option)", "plugin"), tablefmt="simple"))
    print("\nworkloads:")
    print(tabulate(
        [(name, w.item.summary, ", ".join(f"{s.name}: {s.arch}/{s.image_size}px" for s in w.item.scales.values()),
          f"{w.plugin} [{w.origin}]") for name, w in registry.workloads.items()],
        headers=("name", "what", "scales", "plugin"), tablefmt="simple"))
    print("\narchs:")
    print(tabulate([(name, f"{a.plugin} [{a.origin}]") for name, a in registry.archs.items()],
                   headers=("name", "plugin"), tablefmt="simple"))
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    results = load_results(args.results)
    notes = compare.check_no_repeats(" ".join(map(str, args.results)), results, args.force)
    print(render.session_report(results, fmt=args.format))
    for note in notes:
        print(note, file=sys.stderr)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    out = render.plot_epochs(load_results(args.results), Path(args.output))
    print(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recipebench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="recipes, workloads and archs with the plugin that provided each")
    p.add_argument("--plugins-dir", type=Path, default=None, help="also load every *.py plugin in this folder")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("table", help="the summary table of saved results (files or folders)")
    p.add_argument("results", nargs="+", type=Path)
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--force", action="store_true",
                   help="pool results even when a recipe x seed appears more than once (several sessions)")
    p.set_defaults(func=_cmd_table)

    p = sub.add_parser("plot", help="plot error_rate per epoch and lr_find curves of saved results")
    p.add_argument("results", nargs="+", type=Path)
    p.add_argument("-o", "--output", default="epochs.png")
    p.set_defaults(func=_cmd_plot)

    examples = ", ".join(m.example for m in compare.METRICS).replace("%", "%%")  # argparse formats help with %
    p = sub.add_parser(
        "compare", help="compare two result sets per recipe and sub-result, with a t-test across seeds",
        description="Compare NEW against BASE (each a results folder, a result file or a pytest-benchmark JSON "
                    "file): error_rate Δ in percentage points, wall s, img/s and peak MB Δ in %, each with a "
                    "t-test across seeds (Welch's, or paired when both sides ran the same seeds; Holm-adjusted), "
                    "and a verdict: better, worse or within noise.")
    p.add_argument("base", type=Path, help="the reference results (e.g. results/baseline/)")
    p.add_argument("new", type=Path, help="the results to judge (e.g. results/new/)")
    p.add_argument("--format", choices=FORMATS, default="markdown",
                   help="markdown (a GitHub table to paste into a pull request; default), text or csv")
    p.add_argument("--fail-on", action="append", default=[], type=_threshold, metavar="METRIC:THRESHOLD",
                   help=f"exit 1 when a recipe regresses past this (repeatable), e.g. {examples}; significance "
                        "is required where both sides have two or more seeds")
    p.add_argument("--alpha", type=_alpha, default=compare.DEFAULT_ALPHA,
                   help=f"significance level of the verdicts and --fail-on (default {compare.DEFAULT_ALPHA})")
    p.add_argument("--min-effect", action="append", default=[], type=_min_effect, metavar="METRIC:AMOUNT",
                   help="the smallest change a verdict calls better or worse (repeatable; defaults: "
                        + ", ".join(f"{m.name}:{m.format(m.min_effect).lstrip('+').replace(' ', '')}"
                                    for m in compare.METRICS).replace("%", "%%") + ")")
    p.add_argument("--session-noise", type=_percent, default=compare.DEFAULT_SESSION_NOISE, metavar="PERCENT",
                   help="how much a whole session's timings and memory drift with the machine's state, which "
                        f"seeds cannot show; added to the tests of wall s, img/s and peak MB (default "
                        f"{compare.DEFAULT_SESSION_NOISE:.0%})".replace("%)", "%%)"))
    p.add_argument("--force", action="store_true",
                   help="compare even across workloads, scales or devices, or with a seed repeated on a side")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("matrix", help="recipes x the values of a recorded field (--by torch): error_rate and wall s",
                       description="A recipe x value table of error_rate and wall time, e.g. "
                                   "`recipebench matrix results/tox/*/ --by torch`.")
    p.add_argument("results", nargs="+", type=Path, help="results folders or files (all of them, every value)")
    p.add_argument("--by", required=True, metavar="FIELD",
                   help="torch, fastai, torchvision, python, device, device_name, arch, host... or a dotted path "
                        "such as versions.torch")
    p.add_argument("--format", choices=FORMATS, default="markdown")
    p.add_argument("--force", action="store_true", help="put mixed workloads, scales or devices side by side, or pool a recipe x seed that appears twice")
    p.set_defaults(func=_cmd_matrix)
    return parser


def _parsed(parse, text: str):
    try:
        return parse(text)
    except compare.CompareError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _threshold(text: str) -> compare.Threshold:
    return _parsed(compare.Threshold.parse, text)


def _min_effect(text: str) -> compare.Threshold:
    return _parsed(lambda t: compare.Threshold.parse(t, signed=False), text)


def _percent(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*%\s*", text)
    if not match or float(match.group(1)) >= 100:
        raise argparse.ArgumentTypeError(f"{text!r}: a percentage below 100%, e.g. 3%")
    return float(match.group(1)) / 100


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a significance level between 0 and 1, e.g. 0.05")
    return value


def _cmd_compare(args: argparse.Namespace) -> int:
    settings = compare.Settings(args.alpha, {t.metric.name: t.amount for t in args.min_effect}, args.session_noise)
    base = compare.Side(str(args.base), tuple(load_results([args.base])))
    new = compare.Side(str(args.new), tuple(load_results([args.new])))
    comparison = compare.compare(base, new, settings, force=args.force)
    print(report.compare_report(comparison, args.format))
    failed = compare.violations(comparison, args.fail_on)
    for v in failed:
        print(f"recipebench: regression: {v}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_matrix(args: argparse.Namespace) -> int:
    print(report.matrix_report(matrix.build(load_results(args.results), args.by, force=args.force), args.format))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (PluginError, ResultsError, compare.CompareError, matrix.FieldError) as exc:
        print(f"recipebench {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
