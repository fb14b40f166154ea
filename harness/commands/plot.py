"""``recipebench plot RESULTS... [-o FILE]``: error_rate per epoch and lr_find curves in one PNG."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from recipebench.commands.arguments import RESULTS_HELP, load, wrote
from recipebench.render import session_table
from recipebench.suite.options import UsageError

NAME = "plot"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="RESULTS... [-o FILE]: error_rate per epoch and lr_find curves in one PNG",
                       description="One PNG of every run's error_rate per epoch and its lr_find curves.")
    p.add_argument("results", nargs="+", type=Path, metavar="RESULTS", help=RESULTS_HELP)
    p.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                   help="the PNG to write (default: epochs.png in the one results folder given); an existing "
                        "file is never overwritten: the next free name (epochs-2.png) is taken and printed")
    return p


def _beside(paths: Sequence[Path], name: str) -> Path:
    """``name`` in the one results folder given (or beside the one file); several: say where with -o."""
    if len(paths) != 1:
        raise UsageError(f"{len(paths)} results paths: say where the PNG goes with -o FILE")
    path = Path(paths[0])
    return (path if path.is_dir() else path.parent) / name


def run(args: argparse.Namespace) -> int:
    results = load(args.results, NAME).results
    asked = Path(args.output) if args.output else _beside(args.results, "epochs.png")
    wrote(session_table.plot_epochs(results, asked), asked)
    return 0
