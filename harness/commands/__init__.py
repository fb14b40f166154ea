"""The command line: ``recipebench COMMAND`` (also ``python -m recipebench``), one module per command.

Each command module has ``NAME``, ``add_parser(subparsers)`` and ``run(args)``; :data:`COMMANDS` lists them in
the order ``recipebench --help`` shows them. A bad argument is a usage error (exit status 2); ``compare
--fail-on`` exits 1 on a regression.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from recipebench import __version__
from recipebench.commands import ab, compare, export, listing, look, matrix, noise, plot, report, seeds, table

DESCRIPTION = """\
Tables, charts and comparisons of saved benchmark results, and a look at a workload's data.

RESULTS, BASE, NEW, SET: a results folder (searched recursively), a result file or a pytest-benchmark
JSON file. A bad argument is a usage error (exit status 2); compare --fail-on exits 1 on a regression.
recipebench COMMAND --help says more about each command."""
#: The exit status of a command whose output pipe was closed early (``| head``): 128 + SIGPIPE, as a shell says.
EXIT_BROKEN_PIPE = 141
#: The commands, in ``--help`` order: modules with ``add_parser(sub)`` and ``run(args)``.
COMMANDS = (listing, table, report, plot, compare, ab, matrix, seeds, noise, export)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recipebench", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    for command in COMMANDS:
        command.add_parser(sub).set_defaults(func=command.run)
    look.add_show_batch(sub)
    look.add_summary(sub)
    return parser


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

    from recipebench.analysis import compare as compare_mod
    from recipebench.analysis.matrix import FieldError
    from recipebench.analysis.timetotarget import TargetError
    from recipebench.commands.look import DataLookError
    from recipebench.record.store import ResultsError
    from recipebench.registry import PluginError
    from recipebench.render.report import ReportError
    from recipebench.suite.ab import ABError, split_suite_options
    from recipebench.suite.options import UsageError

    argv, suite_options = split_suite_options(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if suite_options:
        args.suite_options = suite_options
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe (| head) shows here, not in the interpreter's last flush
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except (PluginError, ResultsError, compare_mod.CompareError, FieldError, UsageError, TargetError,
            ReportError, DataLookError, ABError) as exc:
        print(f"recipebench {args.command}: error: {exc}", file=sys.stderr)
        return 2
