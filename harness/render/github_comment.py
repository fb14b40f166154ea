"""The compare table as a pull-request comment: ``recipebench compare --format github``.

The body, top to bottom: a first line a reviewer reads alone (how many rows are worse, and in what;
the gate's outcome), what was compared where (commits, seeds, machine), the rows past ``--fail-on``
when the gate failed, the compare table (markdown), its legend folded in a ``<details>`` block, and
last a hidden :data:`MARKER` by which a workflow finds its own comment to update it instead of adding
one on every push. The rows and verdicts are the markdown format's (:mod:`recipebench.render.comparison`).
"""
from __future__ import annotations

from typing import Sequence

from recipebench.analysis.compare import BETTER, NOISE, WORSE, Comparison, RowComparison, Side, Threshold, Violation
from recipebench.render.comparison import SideTimes, compare_legend, compare_table
from recipebench.render.tables import escape_markdown
from recipebench.analysis.timetotarget import Target

#: The hidden line a workflow looks for to find (and edit) the comment it posted before.
MARKER = "<!-- recipebench-compare -->"
#: How the first line names each kind of row, in the order it lists them.
KINDS = ("worse", "mixed", "better", NOISE, "only in base", "only in new", "failed in both")


def _kind(row: RowComparison) -> str:
    verdict = row.verdict
    for kind in KINDS:
        if verdict.startswith(kind):
            return kind
    return NOISE  # pragma: no cover - every verdict starts with one of KINDS


def _what(rows: Sequence[RowComparison], kind: str) -> str:
    """The metrics that made rows worse or better (``error_rate, wall s``), or why (every new run failed)."""
    verdict = WORSE if kind == "worse" else BETTER
    names = [d.metric.header for r in rows for d in r.deltas if d.verdict == verdict and d.decides]
    names += ["every new run failed" for r in rows if r.n_new == 0]
    return ", ".join(dict.fromkeys(names))


def _gate(violations: Sequence[Violation], thresholds: Sequence[Threshold]) -> str:
    if not thresholds:
        return "none (no --fail-on)"
    return "failed" if violations else "passed"


def headline(comparison: Comparison, violations: Sequence[Violation], thresholds: Sequence[Threshold]) -> str:
    """``**recipebench**: 2 rows worse (error_rate), 5 within noise; gate: failed``."""
    by_kind: dict[str, list[RowComparison]] = {}
    for row in comparison.rows:
        by_kind.setdefault(_kind(row), []).append(row)
    parts = []
    for kind in KINDS:
        rows = by_kind.get(kind, [])
        if not rows:
            continue
        count = f"{len(rows)} row{'s' if len(rows) != 1 else ''}" if not parts else str(len(rows))
        what = _what(rows, kind) if kind in ("worse", "better") else ""
        parts.append(f"{count} {kind}" + (f" ({what})" if what else ""))
    return f"**recipebench**: {', '.join(parts) or 'no rows'}; gate: {_gate(violations, thresholds)}"


def _joined(values) -> str:
    return ", ".join(dict.fromkeys(str(v) for v in values))


def _commits(side: Side) -> str:
    return _joined(f"`{(r.environment.get('git_commit') or '?')[:7]}`"
                   f"{' (dirty)' if r.environment.get('git_dirty') else ''}" for r in side.results)


def _seeds(side: Side) -> str:
    seeds = sorted({r.seed for r in side.results})
    return f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds))})"


def _machines(side: Side) -> list[str]:
    return sorted({f"{r.device_name} on {r.environment.get('host') or '?'}" for r in side.results})


def context(comparison: Comparison) -> str:
    """What was compared where: each side's commit and seeds, the setup, the machine(s)."""
    base, new = comparison.base, comparison.new
    setup = ", ".join(dict.fromkeys(f"{r.workload} {r.scale} {r.device}" for r in (*base.results, *new.results)))
    machines_base, machines_new = _machines(base), _machines(new)
    where = (f"one machine: {'; '.join(machines_base)}" if machines_base == machines_new else
             f"base on {'; '.join(machines_base)}, new on {'; '.join(machines_new)} (timings compare machines too)")
    return (f"base {_commits(base)}, {_seeds(base)} → new {_commits(new)}, {_seeds(new)} · {setup} · "
            f"{escape_markdown(where)}")


def body(comparison: Comparison, target: Target | None, violations: Sequence[Violation],
         thresholds: Sequence[Threshold]) -> str:
    """The whole comment (markdown); ``violations``: :func:`recipebench.analysis.compare.violations` of ``thresholds``."""
    times = None if target is None else SideTimes.of_comparison(comparison, target)
    legend = compare_legend(comparison, times)
    notes = list(comparison.notes)
    legend = legend[:len(legend) - len(notes)] if notes else legend  # the notes are shown, not folded away
    lines = [headline(comparison, violations, thresholds), "", context(comparison), ""]
    if violations:
        gate = " ".join(f"`--fail-on {t.text}`" for t in thresholds)
        lines += [f"Past the gate ({gate}):", *(f"- {escape_markdown(v)}" for v in violations), ""]
    lines += [f"Note: {escape_markdown(n)}" for n in notes] + ([""] if notes else [])
    lines += [compare_table(comparison, "markdown", times), "",
              "<details><summary>How to read this table</summary>", "",
              *(f"- {escape_markdown(line)}" for line in legend), "", "</details>", "", MARKER]
    return "\n".join(lines)
