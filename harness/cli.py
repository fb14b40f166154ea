"""The ``recipebench`` command (also ``python -m harness``).

    recipebench list                       recipes, workloads and archs, with the plugin of each
    recipebench table RESULTS...           the summary table of saved results
    recipebench plot RESULTS... -o FILE    error_rate per epoch and lr_find curves
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from harness import render
from harness.plugins import PluginError, load_registry
from harness.store import ResultsError, load_results


def _cmd_list(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    registry = load_registry(args.plugins_dir)
    print("recipes:")
    print(tabulate(
        [(name, r.item.summary, r.item.arch_role, r.item.precision, f"{r.plugin} [{r.origin}]")
         for name, r in registry.recipes.items()],
        headers=("name", "calls", "arch", "precision", "plugin"), tablefmt="simple"))
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
    fmt = {"markdown": "github", "text": "simple"}[args.format]
    print(render.session_report(results, tablefmt=fmt))
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
    p.add_argument("--format", choices=("text", "markdown"), default="text")
    p.set_defaults(func=_cmd_table)

    p = sub.add_parser("plot", help="plot error_rate per epoch and lr_find curves of saved results")
    p.add_argument("results", nargs="+", type=Path)
    p.add_argument("-o", "--output", default="epochs.png")
    p.set_defaults(func=_cmd_plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (PluginError, ResultsError) as exc:
        print(f"recipebench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
