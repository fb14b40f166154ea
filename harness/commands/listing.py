"""``recipebench list``: every recipe, workload, architecture, metric, evaluation and output, with its plugin."""
from __future__ import annotations

import argparse
from pathlib import Path

from recipebench.registry import load_registry

NAME = "list"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="recipes, workloads, archs, metrics, evaluations and outputs, each with its plugin",
                       description="Every recipe, workload, architecture, metric (--metric), evaluation (--evaluate) "
                                   "and output (--output), with the plugin that provided it.")
    p.add_argument("--plugins-dir", type=Path, default=None, help="also load every *.py plugin in this folder")
    return p


def _options_text(item) -> str:
    """A recipe's or an output's options: ``key=default (choice|choice)``."""
    return "; ".join(f"{key}={o.default}" + (f" ({'|'.join(map(str, o.choices))})" if o.choices else "")
                     for key, o in item.options.items())


def run(args: argparse.Namespace) -> int:
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
    print("\nmetrics (--metric):")
    print(tabulate([(name, m.item.summary, m.item.better, "1/n_valid" if m.item.counts else "-", m.item.unit,
                     f"{m.plugin} [{m.origin}]") for name, m in registry.metrics.items()],
                   headers=("name", "what", "better", "step", "Δ in", "plugin"), tablefmt="simple"))
    print("\nevaluations (--evaluate NAME):")
    print(tabulate([(name, e.item.summary, f"{e.plugin} [{e.origin}]") for name, e in registry.evaluations.items()],
                   headers=("name", "what", "plugin"), tablefmt="simple"))
    print("\noutputs (--output NAME; recipebench export NAME RESULTS):")
    print(tabulate([(name, o.item.summary, "yes" if o.item.default else "", _options_text(o.item),
                     f"{o.plugin} [{o.origin}]") for name, o in registry.outputs.items()],
                   headers=("name", "what", "default", "options (--output-option)", "plugin"), tablefmt="simple"))
    return 0
