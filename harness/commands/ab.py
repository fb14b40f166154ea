"""``recipebench ab BASE_REF [HEAD_REF] -- SUITE OPTIONS``: the merge base against the head, interleaved, compared."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recipebench.commands import compare as compare_command

NAME = "ab"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="BASE_REF [HEAD_REF] -- SUITE OPTIONS: the merge base against the head, interleaved, compared",
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
    compare_command.add_compare_options(p)
    p.set_defaults(suite_options=[])
    return p


def run(args: argparse.Namespace) -> int:
    from recipebench.suite import ab

    request = ab.Request(args.base_ref, args.head_ref, args.workdir, tuple(args.suite_options), args.suite)
    base, head = ab.run(request, say=lambda line: print(f"recipebench ab: {line}", file=sys.stderr, flush=True))
    return compare_command.run(argparse.Namespace(**{**vars(args), "base": base, "new": head}))
