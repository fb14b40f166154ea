"""``recipebench matrix RESULTS... --by FIELD``: recipes x the values of a recorded field (torch, fastai, device...)."""
from __future__ import annotations

import argparse
from pathlib import Path

from recipebench.analysis import matrix
from recipebench.commands.arguments import load
from recipebench.render import comparison
from recipebench.render.tables import FORMATS

NAME = "matrix"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="RESULTS... --by FIELD: recipes x the values of a recorded field (torch...)",
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
    return p


def run(args: argparse.Namespace) -> int:
    results = load(args.results, NAME).results
    print(comparison.matrix_report(matrix.build(results, args.by, force=args.force), args.format))
    return 0
