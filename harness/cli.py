"""The recipebench command line (also ``python -m recipebench``); :data:`DESCRIPTION` lists its commands.

A bad argument is a usage error (exit status 2); ``compare --fail-on`` exits 1 on a regression.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Sequence

from recipebench import __version__, compare, matrix, render, report
from recipebench.options import FLAGS, OPTION_TABLE, TABLE_OPTIONS, UsageError, from_values
from recipebench.registry import PluginError, load_registry
from recipebench.rows import grouped
from recipebench.store import Loaded, ResultsError, scan_results
from recipebench.tables import FORMATS
from recipebench.timetotarget import TargetError

DESCRIPTION = """\
Tables, charts and comparisons of saved benchmark results, and a look at a workload's data.

RESULTS, BASE, NEW, SET: a results folder (searched recursively), a result file or a pytest-benchmark
JSON file. A bad argument is a usage error (exit status 2); compare --fail-on exits 1 on a regression.
recipebench COMMAND --help says more about each command."""
#: The exit status of a command whose output pipe was closed early (``| head``): 128 + SIGPIPE, as a shell says.
EXIT_BROKEN_PIPE = 141


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


def _load(paths: Sequence[Path], command: str) -> Loaded:
    """The results; each file in a folder that is not a result is named on stderr, and skipped."""
    loaded = scan_results(paths)
    for why in loaded.skipped:
        print(f"recipebench {command}: note: skipped {why}", file=sys.stderr)
    return loaded


def _check_reference(results, reference: str | None) -> None:
    """A reference named with --reference must be one of the rows (a default one missing is a note)."""
    labels = grouped(results)
    if reference is not None and reference not in labels:
        raise UsageError(f"--reference {reference}: not in these results; choose one of {', '.join(labels)}")


def _cmd_table(args: argparse.Namespace) -> int:
    results = list(_load(args.results, "table").results)
    name = " ".join(map(str, args.results))
    notes = compare.check_uniform(name, results, args.force) + compare.check_no_repeats(name, results, args.force)
    _check_reference(results, args.reference)
    print(render.session_report(results, fmt=args.format, reference=args.reference, target_error=args.target_error))
    for note in notes:
        print(note, file=sys.stderr)
    return 0


def _beside(paths: Sequence[Path], name: str) -> Path:
    """``name`` in the one results folder given (or beside the one file); several: say where with -o."""
    if len(paths) != 1:
        raise UsageError(f"{len(paths)} results paths: say where the PNG goes with -o FILE")
    path = Path(paths[0])
    return (path if path.is_dir() else path.parent) / name


def _wrote(path: Path, asked: Path) -> None:
    kept = "" if path == asked else f" ({asked} exists: files are never overwritten)"
    print(f"{path}{kept}")


def _cmd_plot(args: argparse.Namespace) -> int:
    results = _load(args.results, "plot").results
    asked = Path(args.output) if args.output else _beside(args.results, "epochs.png")
    _wrote(render.plot_epochs(results, asked), asked)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from recipebench import charts, document

    if len(args.sets) > 2:
        raise UsageError(f"{len(args.sets)} result sets: give one, or two (base and new)")
    tags = ("base", "new") if len(args.sets) == 2 else ("",)
    sets = [charts.ResultSet(str(p), _load([p], "report").results, tag) for p, tag in zip(args.sets, tags)]
    for s in sets:
        compare.check_no_repeats(s.name, s.results, args.force)
        _check_reference(s.results, args.reference)
    if len(sets) == 1:
        blocks = document.single_report(sets[0], args.reference, args.target_error)
    else:
        blocks = document.pair_report(sets[0], sets[1], args.reference, args.target_error, compare.Settings(),
                                      args.force)
    for path in document.write(blocks, args.out):
        print(path)
    return 0


def _looked(args: argparse.Namespace):
    from recipebench import showdata
    from recipebench.cache import default_cache_dir

    options = from_values({dest: getattr(args, dest) for dest in DATA_OPTIONS})
    return showdata.prepare(load_registry(options.plugins_dir), options, options.cache_dir or default_cache_dir())


def _cmd_show_batch(args: argparse.Namespace) -> int:
    from recipebench import showdata
    from recipebench.files import atomic_write

    asked = Path(args.out)
    _wrote(atomic_write(asked, showdata.show_batch(_looked(args)), overwrite=False), asked)
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from recipebench import showdata

    print(showdata.summary(_looked(args)), end="")
    return 0


#: The session options show-batch and summary take (from the suite's OPTION_TABLE).
DATA_OPTIONS = ("workload", "scale", "data_dir", "label_re", "labels", "split", "drop_small_classes", "cache_dir",
                "plugins_dir")


def _usage_type(parse):
    """An argparse type from an OPTION_TABLE parser: its UsageError becomes argparse's message."""
    def parsed(text: str):
        try:
            return parse(text)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parsed.__name__ = getattr(parse, "__name__", "value")
    return parsed


def _add_options(p: argparse.ArgumentParser, dests: Sequence[str]) -> None:
    """The suite's options ``dests`` (OPTION_TABLE: same flags, help and parsing as under pytest)."""
    for flag, dest, help_text, parse, _default in OPTION_TABLE:
        if dest in FLAGS and dest in dests:
            p.add_argument(flag, dest=dest, action="store_true", help=help_text.replace("%", "%%"))
        elif dest in dests:
            kind = {} if parse in (None, str) else {"type": _usage_type(parse)}
            p.add_argument(flag, dest=dest, default=None, help=help_text.replace("%", "%%"), **kind)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recipebench", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    results_help = "a results folder (searched recursively), a result file or a pytest-benchmark JSON file"

    p = sub.add_parser("list", help="recipes, workloads and archs with the plugin that provided each",
                       description="Every recipe, workload and architecture, with the plugin that provided it.")
    p.add_argument("--plugins-dir", type=Path, default=None, help="also load every *.py plugin in this folder")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("table", help="RESULTS...: the session table and the ranking against a reference recipe",
                       description="The session table of saved results: each recipe's numbers, then every recipe "
                                   "and sub-result against a reference recipe (Δ error_rate, wall and memory ratios "
                                   "with paired t-tests, a verdict) with its time to a target error rate.")
    p.add_argument("results", nargs="+", type=Path, metavar="RESULTS", help=results_help + " (all pooled)")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), markdown (GitHub), or csv (raw numbers, one column each)")
    _add_options(p, TABLE_OPTIONS)
    p.add_argument("--force", action="store_true",
                   help="pool results even when a recipe x seed appears more than once (several sessions), "
                        "or they mix workloads, scales, devices or the data trained on")
    p.set_defaults(func=_cmd_table)

    p = sub.add_parser("report",
                       help="SET [SET] --out DIR: report.md and report.html with charts (two sets: base, new)",
                       description="Write report.md (renders on GitHub, beside its PNGs) and a self-contained "
                                   "report.html into DIR: the ranking against the reference with time to target, "
                                   "the session table, charts (error rate per epoch, losses, lr_find, error rate "
                                   "against wall time) and the most-confused pairs. With two sets (base and new, "
                                   "or two torch versions): the compare table and the charts side by side.")
    p.add_argument("sets", nargs="+", type=Path, metavar="SET", help=results_help + "; two: base, then new")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="the folder to write into (made if needed; an earlier report there is never overwritten)")
    _add_options(p, TABLE_OPTIONS)
    p.add_argument("--force", action="store_true",
                   help="compare across workloads, scales or devices, or pool a recipe x seed that appears twice")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("plot", help="RESULTS... [-o FILE]: error_rate per epoch and lr_find curves in one PNG",
                       description="One PNG of every run's error_rate per epoch and its lr_find curves.")
    p.add_argument("results", nargs="+", type=Path, metavar="RESULTS", help=results_help)
    p.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                   help="the PNG to write (default: epochs.png in the one results folder given); an existing "
                        "file is never overwritten: the next free name (epochs-2.png) is taken and printed")
    p.set_defaults(func=_cmd_plot)

    examples = ", ".join(m.example for m in compare.METRICS).replace("%", "%%")  # argparse formats help with %
    p = sub.add_parser(
        "compare", help="BASE NEW: per recipe and sub-result, with a t-test across seeds",
        description="Compare NEW against BASE (each a results folder, a result file or a pytest-benchmark JSON "
                    "file): error_rate Δ in percentage points, wall s, img/s and peak MB Δ in %, each with a "
                    "t-test across seeds (Welch's, or paired when both sides ran the same seeds; Holm-adjusted), "
                    "each side's time to a target error rate, and a verdict: better, worse or within noise.")
    p.add_argument("base", type=Path, help="the reference results (e.g. results/baseline/)")
    p.add_argument("new", type=Path, help="the results to judge (e.g. results/new/)")
    p.add_argument("--format", choices=(*FORMATS, "github"), default="markdown",
                   help="markdown (a GitHub table to paste into a pull request; default), text, csv, or github "
                        "(a pull-request comment: a one-line summary, the table, the legend folded, a marker)")
    p.add_argument("--fail-on", action="append", default=[], type=_fail_on, metavar="METRIC:THRESHOLD|failed",
                   help=f"exit 1 when a recipe regresses past this (repeatable), e.g. {examples}; significance "
                        "is required where both sides have two or more seeds. With any of them, a recipe whose "
                        "every new run failed fails too; 'failed' also fails one where some new runs failed")
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
    _add_options(p, TABLE_OPTIONS)
    p.add_argument("--force", action="store_true",
                   help="compare even across workloads, scales or devices, or with a seed repeated on a side")
    p.set_defaults(func=_cmd_compare)
    compare_parser = p

    p = sub.add_parser(
        "ab", help="BASE_REF [HEAD_REF] -- SUITE OPTIONS: the merge base against the head, interleaved, compared",
        usage="%(prog)s BASE_REF [HEAD_REF] [--workdir DIR] [--suite DIR] [compare options] -- SUITE OPTIONS",
        description="In the current directory's git repository: check out the merge base of BASE_REF and HEAD_REF "
                    "(default HEAD) and HEAD_REF as worktrees, install each side's project once into an environment "
                    "of its own (sharing this one's packages), run the benchmark suite with SUITE OPTIONS one seed "
                    "at a time, interleaved (base seed 0, head seed 0, base seed 1, ...), then compare head against "
                    "base (the compare options below; exit 1 past --fail-on). Progress goes to stderr, the "
                    "comparison to stdout. docs/pr-gate.md says what is installed from each side.")
    p.add_argument("base_ref", metavar="BASE_REF", help="the branch the pull request goes into (origin/main)")
    p.add_argument("head_ref", metavar="HEAD_REF", nargs="?", default="HEAD", help="the head (default HEAD)")
    p.add_argument("--workdir", type=Path, default=Path("recipebench-ab"), metavar="DIR",
                   help="where the checkouts, environments, logs, results and ab-order.json go (default "
                        "recipebench-ab; must be new or empty: an earlier run is never touched)")
    p.add_argument("--suite", type=Path, default=None, metavar="DIR",
                   help="the benchmark suite's folder, relative to each side's checkout (default: the side's "
                        "recipes/, else the one beside the recipebench it imports)")
    for action in compare_parser._actions:  # the compare options, defined once (argparse's parents= does this)
        if action.option_strings and action.dest != "help":
            p._add_action(action)
    p.set_defaults(func=_cmd_ab, suite_options=[])

    p = sub.add_parser("matrix", help="RESULTS... --by FIELD: recipes x the values of a recorded field (torch...)",
                       description="A recipe x value table of error_rate and wall time, e.g. "
                                   "recipebench matrix results/tox/*/ --by torch")
    p.add_argument("results", nargs="+", type=Path, metavar="RESULTS",
                   help="results folders or files (all of them, every value)")
    p.add_argument("--by", required=True, metavar="FIELD",
                   help="torch, fastai, torchvision, python, device, device_name, arch, host... or a dotted path "
                        "such as versions.torch")
    p.add_argument("--format", choices=FORMATS, default="markdown",
                   help="markdown (default), text, or csv (raw numbers, one column each)")
    p.add_argument("--force", action="store_true",
                   help="put mixed workloads, scales or devices side by side, or pool a recipe x seed that appears twice")
    p.set_defaults(func=_cmd_matrix)

    p = sub.add_parser(  # recipebench seeds: how many seeds (recipebench.seeds)
        "seeds", help="RESULTS... --delta 1pp: per recipe, the seeds needed to detect that change",
        description="For each recipe and sub-result: the seeds per side at which a change of --delta against the "
                    "reference would be significant (two-sided t-test, paired over shared seeds) with the given "
                    "power, from the results' own per-seed spread (error_rate's at least the counting noise of the "
                    "validation images). With one seed there is no spread: it says so, and how many to run.")
    p.add_argument("results", nargs="+", type=Path, metavar="RESULTS", help=results_help + " (all pooled)")
    p.add_argument("--delta", required=True, metavar="AMOUNT",
                   help="the change to detect: percentage points for error_rate (1pp), percent for wall, throughput "
                        "and memory (10%%: a ratio, on log scale)")
    p.add_argument("--metric", default="error_rate", choices=[m.name for m in compare.METRICS],
                   help="the figure the change is in (default error_rate)")
    p.add_argument("--power", type=_share, default=0.8, help="the chance of detecting it to plan for (default 0.8)")
    p.add_argument("--alpha", type=_alpha, default=compare.DEFAULT_ALPHA,
                   help=f"significance level of the test (default {compare.DEFAULT_ALPHA})")
    p.add_argument("--session-noise", type=_percent, default=compare.DEFAULT_SESSION_NOISE, metavar="PERCENT",
                   help="session-to-session drift of timings and memory added to each side, as compare does "
                        f"(default {compare.DEFAULT_SESSION_NOISE:.0%}; 0%% when both sides run in one session)"
                   .replace("%;", "%%;"))
    p.add_argument("--reference", default=None, metavar="NAME",
                   help="the recipe the changes are against (default baseline)")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), markdown, or csv (raw numbers: sd as a proportion or a log-sd)")
    p.add_argument("--force", action="store_true", help="pool results even when a recipe x seed appears twice")
    p.set_defaults(func=_cmd_seeds)

    p = sub.add_parser("show-batch", help="--workload W --out FILE.png: augmented training images with their labels",
                       description="Prepare a workload's data as the suite does (nothing is trained) and write a "
                                   "grid of augmented training images, each titled with its label: the chapter's "
                                   "dls.show_batch().")
    _add_options(p, DATA_OPTIONS)
    p.add_argument("--out", type=Path, required=True, metavar="FILE.png",
                   help="the PNG to write; an existing file is never overwritten: the next free name is taken")
    p.set_defaults(func=_cmd_show_batch)

    p = sub.add_parser("summary", help="--workload W: fastai's DataBlock.summary of a workload's data",
                       description="Prepare a workload's data as the suite does (nothing is trained) and print "
                                   "fastai's DataBlock.summary: every step from a file to a batch.")
    _add_options(p, DATA_OPTIONS)
    p.set_defaults(func=_cmd_summary)
    return parser


def _parsed(parse, text: str):
    try:
        return parse(text)
    except compare.CompareError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fail_on(text: str) -> compare.Threshold | compare.FailedRuns:
    return _parsed(compare.parse_fail_on, text)


def _min_effect(text: str) -> compare.Threshold:
    return _parsed(lambda t: compare.Threshold.parse(t, signed=False), text)


def _percent(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*%\s*", text)
    if not match or float(match.group(1)) >= 100:
        raise argparse.ArgumentTypeError(f"{text!r}: a percentage below 100%, e.g. 3%")
    return float(match.group(1)) / 100


def _between_0_and_1(what: str, example: str):
    """An argparse type: a number strictly between 0 and 1 (``what``, e.g. "a power"), else an error naming it."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0 < value < 1:
            raise argparse.ArgumentTypeError(f"{text!r}: {what} between 0 and 1, e.g. {example}")
        return value
    return parse


_alpha = _between_0_and_1("a significance level", "0.05")
_share = _between_0_and_1("a power", "0.8")


def _cmd_compare(args: argparse.Namespace) -> int:
    settings = compare.Settings(args.alpha, {t.metric.name: t.amount for t in args.min_effect}, args.session_noise)
    base = compare.Side(str(args.base), _load([args.base], "compare").results)
    new = compare.Side(str(args.new), _load([args.new], "compare").results)
    comparison = compare.compare(base, new, settings, force=args.force)
    _check_reference(base.results, args.reference)
    target = report.compare_target(comparison, args.reference, args.target_error)
    failed = compare.violations(comparison, args.fail_on)
    if args.format == "github":
        from recipebench import github_comment

        print(github_comment.body(comparison, target, failed, args.fail_on))
    else:
        print(report.compare_report(comparison, args.format, target))
    for v in failed:
        print(f"recipebench: regression: {v}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_seeds(args: argparse.Namespace) -> int:
    from recipebench import seeds
    from recipebench.ranking import DEFAULT_REFERENCE

    metric = compare.metric_named(args.metric)
    try:
        amount = compare.Threshold.parse(f"{metric.name}:{args.delta}", signed=False).amount
    except compare.CompareError:
        unit, other = ("pp, e.g. 1pp", "%: add --metric wall (or throughput, memory)") if metric.unit == "pp" else (
            "%, e.g. 10%", "pp: add --metric error_rate")
        raise UsageError(f"--delta {args.delta}: {metric.name} changes in {unit}; for a change in {other}") from None
    results = list(_load(args.results, "seeds").results)
    notes = compare.check_no_repeats(" ".join(map(str, args.results)), results, args.force)
    _check_reference(results, args.reference)
    reference = args.reference or DEFAULT_REFERENCE
    if reference not in grouped(results):
        raise UsageError(f"no {reference} in these results to plan against: choose one with --reference NAME")
    settings = compare.Settings(args.alpha, session_noise=args.session_noise)
    print(seeds.seeds_report(results, metric, amount, settings, reference, args.power, args.format,
                             " ".join(map(str, args.results))))
    for note in notes:
        print(note, file=sys.stderr)
    return 0


def _cmd_ab(args: argparse.Namespace) -> int:
    from recipebench import ab

    request = ab.Request(args.base_ref, args.head_ref, args.workdir, tuple(args.suite_options), args.suite)
    base, head = ab.run(request, say=lambda line: print(f"recipebench ab: {line}", file=sys.stderr, flush=True))
    return _cmd_compare(argparse.Namespace(**{**vars(args), "base": base, "new": head}))


def _cmd_matrix(args: argparse.Namespace) -> int:
    results = _load(args.results, "matrix").results
    print(report.matrix_report(matrix.build(results, args.by, force=args.force), args.format))
    return 0


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush to a closed pipe says nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout with no file descriptor (captured): nothing to flush
        pass


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # an ASCII-only terminal or log: escape what it cannot show (Δ, ×, 猫)
        if hasattr(stream, "reconfigure") and stream.encoding and stream.encoding.lower().replace("-", "") != "utf8":
            stream.reconfigure(errors="backslashreplace")

    from recipebench.ab import ABError, split_suite_options

    argv, suite_options = split_suite_options(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if suite_options:
        args.suite_options = suite_options
    from recipebench.document import ReportError
    from recipebench.showdata import DataLookError

    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe (| head) shows here, not in the interpreter's last flush
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except (PluginError, ResultsError, compare.CompareError, matrix.FieldError, UsageError, TargetError,
            ReportError, DataLookError, ABError) as exc:
        print(f"recipebench {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
