"""The compare and matrix reports: a table (markdown, text or csv) and the legend that says how to read it.

csv gives the raw numbers, one column per figure, and no legend; markdown and text give formatted
cells followed by the legend (a bullet list in markdown, ready to paste into a pull request).
"""
from __future__ import annotations

from typing import Sequence

from recipebench.compare import (
    METRICS,
    Comparison,
    Delta,
    RowComparison,
    Side,
    setup_of,
)
from recipebench.matrix import Matrix
from recipebench.results import STATUS_OK, RunResult
from recipebench.stats import Summary
from recipebench.tables import error_text, escape_markdown, format_table, spread_text

COMPARE_HEADERS = ("recipe", "seeds", "error_rate base → new", "Δ error_rate", "wall s base → new", "Δ wall s",
                   "Δ img/s", "Δ peak MB", "verdict")


def _p_text(d: Delta) -> str:
    if d.p is None:
        return "no test"
    return "p<0.001" if d.p < 0.001 else f"p={d.p:.2g}"


def _delta_text(d: Delta | None) -> str:
    return "-" if d is None else f"{d.metric.format(d.change)} ({_p_text(d)})"


def _mean_std(values: Sequence[float]) -> str:
    s = Summary.of(values)
    return f"{s.mean:.4f}" if s.std is None else f"{s.mean:.4f} ± {s.std:.4f}"


def _seeds_text(row: RowComparison) -> str:
    text = f"{row.n_base} → {row.n_new}" + (" paired" if row.paired else "")
    if row.left_out_base or row.left_out_new:
        left = [f"{side} {', '.join(map(str, seeds))}" for side, seeds in (("base", row.left_out_base),
                                                                            ("new", row.left_out_new)) if seeds]
        text += f" on shared seeds (left out: {'; '.join(left)})"
    failed = [f"{n} failed in {side}" for n, side in ((row.failed_base, "base"), (row.failed_new, "new")) if n]
    return text + (f" ({', '.join(failed)})" if failed else "")


def compare_cells(row: RowComparison) -> list[str]:
    err, wall = row.delta("error_rate"), row.delta("wall")
    return [
        row.label,
        _seeds_text(row),
        "-" if err is None else f"{_mean_std(err.base)} → {_mean_std(err.new)}",
        _delta_text(err),
        "-" if wall is None else f"{wall.metric.center(wall.base):.1f} → {wall.metric.center(wall.new):.1f}",
        _delta_text(wall),
        _delta_text(row.delta("throughput")),
        _delta_text(row.delta("memory")),
        row.verdict,
    ]


def _csv_headers() -> list[str]:
    out = ["label", "n_base", "n_new", "failed_base", "failed_new", "left_out_seeds_base", "left_out_seeds_new"]
    for m in METRICS:
        unit = "pp" if m.unit == "pp" else "pct"
        out += [f"{m.name}_base", f"{m.name}_new", f"{m.name}_change_{unit}", f"{m.name}_p", f"{m.name}_verdict"]
    return out + ["verdict"]


def compare_csv_row(row: RowComparison) -> list[object]:
    out: list[object] = [row.label, row.n_base, row.n_new, row.failed_base, row.failed_new,
                         " ".join(map(str, row.left_out_base)), " ".join(map(str, row.left_out_new))]
    for m in METRICS:
        d = row.delta(m.name)
        out += [None] * 5 if d is None else [m.center(d.base), m.center(d.new), d.change, d.p, d.verdict]
    return out + [row.verdict]


def _minimums(comparison: Comparison) -> str:
    return ", ".join(f"{m.format(comparison.settings.min_effects[m.name]).lstrip('+')} {m.header}" for m in METRICS)


def side_line(label: str, side: Side) -> str:
    """Where a side's numbers come from: setup, seeds, versions, machine, commit."""
    rs = side.results

    def joined(values) -> str:
        return "/".join(dict.fromkeys(str(v) for v in values))

    setup = " ".join("/".join(v) for v in setup_of(rs).values())
    commits = joined(f"{(r.environment.get('git_commit') or '?')[:10]}"
                     f"{' (dirty)' if r.environment.get('git_dirty') else ''}" for r in rs)
    return (f"{label}: {side.name}: {setup}, seeds {joined(sorted({r.seed for r in rs}))}; "
            f"torch {joined(r.versions.get('torch') for r in rs)}, fastai {joined(r.versions.get('fastai') for r in rs)}; "
            f"{joined(r.device_name for r in rs)} on {joined(r.environment.get('host') for r in rs)}; commit {commits}")


def compare_legend(comparison: Comparison) -> list[str]:
    alpha = comparison.settings.alpha
    return [
        "Δ: new against base. error_rate: mean ± std over seeds, Δ in percentage points; "
        "wall s, img/s, peak MB: geometric means over seeds, Δ in %.",
        "p: two-sided t-test across seeds: Welch's (unequal variances), or paired over seeds where both sides ran "
        "the same seeds (seeds: paired); on log values for wall s, img/s and peak MB; Holm-adjusted over the "
        f"rows of each column; wall s, img/s and peak MB add a session-to-session noise of "
        f"{comparison.settings.session_noise:.0%} that seeds run in one session cannot show.",
        f"verdict: worse/better when p < {alpha:g} and |Δ| ≥ the practical minimum ({_minimums(comparison)}); "
        "otherwise within noise. n=1: no test possible, the minimum alone decides.",
        *(["on shared seeds: the sides ran some seeds in common but not all; such a row compares only the "
           "seeds both ran (a seed fixes a run: other seeds would compare luck), the others are named"]
          if any(r.left_out_base or r.left_out_new for r in comparison.rows) else []),
        side_line("base", comparison.base),
        side_line("new", comparison.new),
        *comparison.notes,
    ]


def _with_legend(table: str, legend: Sequence[str], fmt: str) -> str:
    if fmt == "csv":
        return table
    if fmt == "markdown":
        legend = [f"- {escape_markdown(line)}" for line in legend]
    return "\n".join([table, "", *legend])


def compare_report(comparison: Comparison, fmt: str = "markdown") -> str:
    """The compare table, one row per recipe and sub-result, then its legend."""
    if fmt == "csv":
        return format_table(_csv_headers(), [compare_csv_row(r) for r in comparison.rows], fmt)
    table = format_table(COMPARE_HEADERS, [compare_cells(r) for r in comparison.rows], fmt)
    return _with_legend(table, compare_legend(comparison), fmt)


def _matrix_csv(matrix: Matrix) -> str:
    headers = ["label", matrix.by, "n", "failed", "error_rate_mean", "error_rate_std", "wall_s_median",
               "wall_s_min", "wall_s_max"]
    body = []
    for label, row in matrix.cells.items():
        for value, group in row.items():
            ok = [r for r in group if r.status == STATUS_OK]
            err, wall = Summary.of(r.error_rate for r in ok), Summary.of(r.wall_s for r in ok)
            body.append([label, value, len(ok), len(group) - len(ok),
                         *((None, None) if err is None else (err.mean, err.std)),
                         *((None, None, None) if wall is None else (wall.median, wall.min, wall.max))])
    return format_table(headers, body, "csv")


def _setup_line(results: Sequence[RunResult], by: str) -> str:
    setup = {f: "/".join(v) for f, v in setup_of(results).items()}
    return ", ".join(f"{f} {v}" for f, v in setup.items() if f != by)


def matrix_report(matrix: Matrix, fmt: str = "markdown") -> str:
    """One row per recipe and sub-result, for each value of ``by`` an error_rate and a wall s column."""
    if fmt == "csv":
        return _matrix_csv(matrix)
    headers = ["recipe"] + [f"{matrix.by} {v}: {what}" for v in matrix.values for what in ("error_rate", "wall s")]
    body = []
    for label, row in matrix.cells.items():
        cells = [label]
        for value in matrix.values:
            group = row.get(value, ())
            ok = [r for r in group if r.status == STATUS_OK]
            cells += [error_text(group) if group else "-",
                      spread_text(Summary.of(r.wall_s for r in ok)) if group else "-"]
        body.append(cells)
    legend = ["error_rate: mean ± std (n) over seeds; wall s: median [min-max] over seeds.",
              _setup_line(matrix.results, matrix.by),
              *matrix.notes]
    return _with_legend(format_table(headers, body, fmt), legend, fmt)
