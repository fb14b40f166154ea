"""``recipebench list``: every recipe, workload, architecture and metric, with the plugin that provided it."""
from __future__ import annotations

import argparse
from pathlib import Path

from recipebench.registry import load_registry

NAME = "list"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="recipes, workloads, archs and metrics with the plugin that provided each",
                       description="Every recipe, workload, architecture and metric, with the plugin that provided it.")
    p.add_argument("--plugins-dir", type=Path, default=None, help="also load every *.py plugin in this folder")
    return p


def _options_text(recipe) -> str:
    return "; ".join(f"{key}={o.default}" + (f" ({'|'.join(map(str, o.choices))})" if o.choices else "")
                     for key, o in recipe.options.items())


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
    return 0
