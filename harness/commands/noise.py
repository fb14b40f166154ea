"""``recipebench noise``: A/A simulation of compare's verdicts: how often it cries wolf, how often it catches a change."""
from __future__ import annotations

import argparse
from dataclasses import replace

from recipebench.analysis.compare import DEFAULT_METRICS, Settings
from recipebench.analysis.noise import FAIL_ON, NoiseModel, Shift, fit, simulate
from recipebench.render.tables import format_table

NAME = "noise"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="[--fit RESULTS...]: how often compare cries wolf and catches a change (A/A)",
                       description="Pairs of result sets of the same code with different seeds, drawn from a noise model (its "
                                   "defaults, or fitted to RESULTS with --fit), each through the real comparison: how "
                                   "often a table shows a verdict other than within noise (A/A), how often it catches "
                                   "a real change, and how often --fail-on would exit 1.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=2000, help="simulated comparisons per line (default 2000)")
    p.add_argument("--seeds", default="1,2,3,5", help="seeds per side to simulate, comma-separated")
    p.add_argument("--format", default="markdown", choices=("markdown", "text", "csv"),
                   help="the table's format (default markdown)")
    p.add_argument("--fit", metavar="RESULTS", nargs="+",
                   help="fit the model to these results (e.g. results/baseline/) instead of its defaults")
    return p


def run(args: argparse.Namespace) -> int:
    if args.fit:
        from recipebench.record.store import load_results

        model = fit(load_results(args.fit))
        print(f"fitted to {' '.join(args.fit)}: {model}\n")
    else:
        model = NoiseModel()
    scenarios = (
        ("A/A", model, Shift()),
        (f"A/A, sessions drift {2 * model.wall_session_sd:.0%}", replace(model, wall_session_sd=2 * model.wall_session_sd),
         Shift()),
        ("wall x1.2, +2 pp", model, Shift(2.0, 1.2)),
        ("wall x3, +5 pp", model, Shift(5.0, 3.0)),
    )
    body = []
    for seeds in (int(s) for s in args.seeds.split(",")):
        for name, m, shift in scenarios:
            r = simulate(m, seeds=seeds, trials=args.trials, shift=shift)
            body.append([seeds, name, f"{r.rows_flagged:.1%}", f"{r.tables_flagged:.1%}", f"{r.tables_worse:.1%}",
                         f"{r.tables_failing:.1%}"])
    print(format_table(["seeds per side", "new vs base", "rows not within noise", "tables with a verdict",
                        "tables with a worse", f"--fail-on {', '.join(FAIL_ON)} exits 1"], body, args.format))
    settings = Settings()
    minimums = ", ".join(f"{m.name} {settings.minimum(m):g}" for m in DEFAULT_METRICS)
    print(f"\n{args.trials} simulated comparisons of {model.labels} rows each; compare's defaults: alpha "
          f"{settings.alpha}, minimum effects {minimums} (pp or %), session noise {settings.session_noise:.0%}; "
          f"model: {model}")
    return 0
