"""``recipebench export OUTPUT RESULTS``: write an output (mlflow, tensorboard, summary.csv, ...) from saved results.

The outputs are the plugins a session writes at its end (:mod:`recipebench.suite.outputs`); each output's options
are this command's flags (``recipebench export mlflow RESULTS --tracking-uri URI --experiment NAME``). Exporting
reads the results and never writes into RESULTS: files go to ``--out-dir`` (default: the current directory),
a tracker's store beside RESULTS unless told otherwise.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recipebench.commands.arguments import RESULTS_HELP, add_options, check_metric, check_reference, load
from recipebench.registry import PluginError, UnknownNameError, load_registry
from recipebench.suite import outputs
from recipebench.suite.options import TABLE_OPTIONS, UsageError

NAME = "export"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="OUTPUT RESULTS: write an output (mlflow, tensorboard, summary.csv, ...) from saved "
                                  "results",
                       description="Write one of the session outputs from saved results: "
                                   "recipebench export mlflow RESULTS [--tracking-uri URI] [--experiment NAME], "
                                   "recipebench export tensorboard RESULTS [--logdir DIR], or any output that "
                                   "recipebench list shows. recipebench export OUTPUT --help lists its options.")
    p.add_argument("output", metavar="OUTPUT", help="the output's name (recipebench list shows them)")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="RESULTS and the output's options")
    return p


def _output_parser(output) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"recipebench {NAME} {output.name}",
                                description=f"{output.name}: {output.summary}. Never writes into RESULTS.")
    p.add_argument("results", type=Path, metavar="RESULTS", help=RESULTS_HELP)
    p.add_argument("--plugins-dir", type=Path, default=None, help="also load every *.py plugin in this folder")
    p.add_argument("--out-dir", type=Path, default=Path("."),
                   help="where an output that writes files puts them (default: the current directory)")
    add_options(p, TABLE_OPTIONS)
    for key, option in output.options.items():
        choices = {"choices": option.choices} if option.choices else {}
        default = f" (default: {option.default})" if option.default != "" else ""
        try:
            p.add_argument(f"--{key.replace('_', '-')}", dest=f"option_{key}", default=None, metavar=key.upper(),
                           help=(option.help or key).replace("%", "%%") + default, **choices)
        except argparse.ArgumentError:
            raise PluginError(f"output {output.name!r}: its option {key!r} is also a flag of recipebench {NAME} "
                              f"itself (--{key.replace('_', '-')}); the plugin must rename it") from None
    return p


def run(args: argparse.Namespace) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--plugins-dir", type=Path, default=None)
    known, _ = pre.parse_known_args(args.rest)
    registry = load_registry(known.plugins_dir)
    try:
        output = registry.output(args.output)
    except UnknownNameError as exc:
        raise UsageError(str(exc)) from None
    parsed = _output_parser(output).parse_args(args.rest)
    outputs.check_requires(output)
    given = {key: getattr(parsed, f"option_{key}") for key in output.options
             if getattr(parsed, f"option_{key}") is not None}
    chosen = outputs.Chosen(output, outputs.option_values(output, given, f"{NAME} {output.name}"))
    loaded = load([parsed.results], NAME)
    check_reference(loaded.results, parsed.reference)
    metric = check_metric(loaded.results, parsed.metric)
    results_path = parsed.results
    folder = results_path if results_path.is_dir() else results_path.parent  # a file: the folder holding it
    beside = folder.resolve().parent  # never inside that folder

    def say(line: str) -> None:
        print(line, file=sys.stderr)

    (done,) = outputs.write([chosen], lambda c: outputs.session_output(
        loaded.results, (), results_path, parsed.out_dir, beside, parsed.reference, parsed.target_error, c.options,
        say, metric=metric))
    if done.failed:
        print(f"recipebench {NAME}: error: output {done.name} failed: {done.failed}", file=sys.stderr)
        return 1
    for written in done.written:
        print(written)
    return 0
