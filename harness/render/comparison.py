"""The compare and matrix reports: a table (markdown, text or csv) and the legend that says how to read it.

csv gives the raw numbers, one column per figure, and no legend; markdown and text give formatted
cells followed by the legend (a bullet list in markdown, ready to paste into a pull request).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

from recipebench.analysis.compare import (
    METRICS,
    Comparison,
    Delta,
    RowComparison,
    Side,
    left_out_text,
    setup_of,
)
from recipebench.analysis.matrix import Matrix
from recipebench.analysis.power import column_legend
from recipebench.analysis.ranking import DEFAULT_REFERENCE, RANK_METRICS, RankedRow, Ranking
from recipebench.record.results import STATUS_OK, RunResult
from recipebench.analysis.rows import grouped
from recipebench.analysis.stats import Summary
from recipebench.render.tables import error_text, escape_markdown, format_table, spread_text
from recipebench.analysis.timetotarget import CLOCK_EPOCHS, Target, TimeSummary, choose_target, summarise

COMPARE_HEADERS = ("recipe", "seeds", "error_rate base → new", "Δ error_rate", "wall s base → new", "Δ wall s",
                   "Δ img/s", "Δ peak MB", "to target base → new", "seeds needed", "verdict")


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
    if row.left_out:
        text += f" on shared seeds ({left_out_text(row.left_out)})"
    failed = [f"{n} failed in {side}" for n, side in ((row.failed_base, "base"), (row.failed_new, "new")) if n]
    return text + (f" ({', '.join(failed)})" if failed else "")


def _plan_text(row: RowComparison | None) -> str:
    """The "seeds needed" cell (recipebench.analysis.power): a count, -, > 100, never, n=1."""
    return "-" if row is None or row.seeds_needed is None else row.seeds_needed.text()


def _plan_raw(row: RowComparison | None) -> object:
    plan = None if row is None else row.seeds_needed
    return None if plan is None else plan.seeds if plan.seeds is not None else plan.text()


def _time_short(t: TimeSummary | None) -> str:
    """Time to target in one cell: ``24.1 s, ep 3``, with ``(2/3)`` reached when not all did."""
    if t is None:
        return "-"
    share = f" ({t.reached}/{t.runs})" if t.reached < t.runs else ""
    if t.epochs_median is None:
        return "not reached" + share
    return f"{t.wall_s_median:.1f} s, ep {_count(t.epochs_median)}{share}"


def compare_cells(row: RowComparison, times: SideTimes | None = None) -> list[str]:
    err, wall = row.delta("error_rate"), row.delta("wall")
    base_t, new_t = (None, None) if times is None else times.of(row.label)
    return [
        row.label,
        _seeds_text(row),
        "-" if err is None else f"{_mean_std(err.base)} → {_mean_std(err.new)}",
        _delta_text(err),
        "-" if wall is None else f"{wall.metric.center(wall.base):.1f} → {wall.metric.center(wall.new):.1f}",
        _delta_text(wall),
        _delta_text(row.delta("throughput")),
        _delta_text(row.delta("memory")),
        "-" if times is None else f"{_time_short(base_t)} → {_time_short(new_t)}",
        _plan_text(row),
        row.verdict,
    ]


def _csv_headers() -> list[str]:
    out = ["label", "n_base", "n_new", "failed_base", "failed_new", "left_out_seeds_base", "left_out_seeds_new"]
    for m in METRICS:
        unit = "pp" if m.unit == "pp" else "pct"
        out += [f"{m.name}_base", f"{m.name}_new", f"{m.name}_change_{unit}", f"{m.name}_p", f"{m.name}_verdict"]
    out.append("target_error_rate")
    for side in ("base", "new"):
        out += [f"{h}_{side}" for h in TIME_RAW_HEADERS]
    return out + ["error_rate_seeds_needed", "verdict"]


def compare_csv_row(row: RowComparison, times: SideTimes | None = None) -> list[object]:
    out: list[object] = [row.label, row.n_base, row.n_new, row.failed_base, row.failed_new,
                         " ".join(map(str, row.left_out_base)), " ".join(map(str, row.left_out_new))]
    for m in METRICS:
        d = row.delta(m.name)
        out += [None] * 5 if d is None else [m.center(d.base), m.center(d.new), d.change, d.p, d.verdict]
    out.append(None if times is None else times.target.error_rate)
    for t in (None, None) if times is None else times.of(row.label):
        out += time_raw(t)
    return out + [_plan_raw(row), row.verdict]


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


@dataclass(frozen=True)
class SideTimes:
    """Time to one target on each side of a comparison, per label."""

    target: Target
    base: Mapping[str, TimeSummary | None]
    new: Mapping[str, TimeSummary | None]

    @classmethod
    def of_comparison(cls, comparison: Comparison, target: Target) -> SideTimes:
        def side(results):
            return {label: summarise(group, target) for label, group in grouped(results).items()}

        return cls(target, side(comparison.base.results), side(comparison.new.results))

    def of(self, label: str) -> tuple[TimeSummary | None, TimeSummary | None]:
        return self.base.get(label), self.new.get(label)


def compare_target(comparison: Comparison, reference: str | None = None,
                   target_error: float | None = None) -> Target | None:
    """``--target-error``, else the base side's reference recipe's mean final error_rate (None: no such runs)."""
    target = choose_target(grouped(comparison.base.results), reference or DEFAULT_REFERENCE, target_error)
    if target is None or target_error is not None:
        return target
    return Target(target.error_rate, f"{target.source}, in base")


def compare_legend(comparison: Comparison, times: SideTimes | None = None) -> list[str]:
    alpha = comparison.settings.alpha
    target = ([f"to target: median wall s (from the recipe's start) and epochs until the validation error_rate "
               f"first reached {times.target.error_rate:.4f} ({times.target.source}); not reached (or "
               "failed) counts as never; (k/n): runs that got there, when not all"] if times is not None else [])
    return [
        "Δ: new against base. error_rate: mean ± std over seeds, Δ in percentage points; "
        "wall s, img/s, peak MB: geometric means over seeds, Δ in %.",
        "p: two-sided t-test across seeds: Welch's (unequal variances), or paired over seeds where both sides ran "
        "the same seeds (seeds: paired); on log values for wall s, img/s and peak MB; Holm-adjusted over the "
        f"rows of each column; wall s, img/s and peak MB add a session-to-session noise of "
        f"{comparison.settings.session_noise:.0%} that seeds run in one session cannot show.",
        f"verdict: worse/better when p < {alpha:g} and |Δ| ≥ the practical minimum ({_minimums(comparison)}); "
        "otherwise within noise. n=1: no test possible, the minimum alone decides.",
        *target,
        *(["on shared seeds: the sides ran some seeds successfully in common but not all; such a row compares "
           "only the seeds both ran successfully (a seed fixes a run: other seeds would compare luck), the others "
           "are named with why"]
          if any(r.left_out_base or r.left_out_new for r in comparison.rows) else []),
        column_legend(comparison.settings.alpha),
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


def compare_report(comparison: Comparison, fmt: str = "markdown", target: Target | None = None) -> str:
    """The compare table, one row per recipe and sub-result, then its legend; with ``target``, each
    side's time to it (:func:`compare_target` chooses the usual one)."""
    times = None if target is None else SideTimes.of_comparison(comparison, target)
    if fmt == "csv":
        return format_table(_csv_headers(), [compare_csv_row(r, times) for r in comparison.rows], fmt)
    table = format_table(COMPARE_HEADERS, [compare_cells(r, times) for r in comparison.rows], fmt)
    return _with_legend(table, compare_legend(comparison, times), fmt)


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


# --- the ranking against a reference, and time to target ---------------------------------------------------

RANKING_HEADERS = ("recipe", "rank", "error_rate", "Δ error_rate", "wall ×", "peak MB ×", "verdict",
                   "epochs to target", "s to target", "seeds needed")


def _ratio_text(d: Delta | None) -> str:
    return "-" if d is None else f"×{1 + d.change / 100:.2f} ({_p_text(d)})"


def _count(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def time_cells(t: TimeSummary | None) -> list[str]:
    """Epochs and wall s to the target: the median over seeds (not reached counts as never), the
    spread of the runs that got there, and how many did when not all."""
    if t is None:
        return ["-", "-"]
    share = f"{t.reached}/{t.runs} reached"
    if t.epochs_median is None:
        text = "not reached" + (f" ({share})" if t.reached else "")
        return [text, text]
    if t.reached < t.runs:
        return [f"{_count(t.epochs_median)} ({share})", f"{t.wall_s_median:.1f} ({share})"]
    wall = (f"{t.wall_s_median:.1f}" if t.runs == 1 else
            f"{t.wall_s_median:.1f} [{t.wall_s_min:.1f}-{t.wall_s_max:.1f}]")
    return [_count(t.epochs_median), wall]


def time_raw(t: TimeSummary | None) -> list[object]:
    """runs, reached, epochs median, wall s median, min, max (csv)."""
    if t is None:
        return [None] * 6
    return [t.runs, t.reached, t.epochs_median, t.wall_s_median, t.wall_s_min, t.wall_s_max]


TIME_RAW_HEADERS = ("target_runs", "target_reached", "epochs_to_target_median", "s_to_target_median",
                    "s_to_target_min", "s_to_target_max")


def ranking_cells(row: RankedRow) -> list[str]:
    c = row.comparison
    failed = Counter(row.failures)
    if row.runs == 0:  # as every table says it: ERROR, DIVERGED
        verdict = "/".join(status.upper() for status in failed) or "-"
    else:
        verdict = "reference" if row.reference else "-" if c is None else c.verdict
        verdict += f" ({', '.join(f'{n} {status}' for status, n in failed.items())})" if failed else ""
    err = row.error_rate
    return [row.label, "-" if row.rank is None else str(row.rank),
            "-" if err is None else f"{err.mean:.4f}" + ("" if err.std is None else f" ± {err.std:.4f}"),
            _delta_text(c.delta("error_rate")) if c else "-",
            _ratio_text(c.delta("wall")) if c else "-",
            _ratio_text(c.delta("memory")) if c else "-",
            verdict, *time_cells(row.time), _plan_text(c)]


RANKING_RAW_HEADERS = ("rank", "error_rate_change_pp", "error_rate_p", "wall_ratio", "wall_p", "memory_ratio",
                       "memory_p", "verdict_vs_reference", "target_error_rate", *TIME_RAW_HEADERS,
                       "error_rate_seeds_needed")


def ranking_raw(row: RankedRow, ranking: Ranking) -> list[object]:
    """The ranking's raw numbers for one row (csv): p-values Holm-adjusted, ratios new / reference."""
    c = row.comparison
    out: list[object] = [row.rank]
    for name in RANK_METRICS:
        d = c.delta(name) if c else None
        value = None if d is None else d.change if d.metric.unit == "pp" else 1 + d.change / 100
        out += [value, None if d is None else d.p]
    verdict = "reference" if row.reference else (c.verdict if c else None)
    return out + [verdict, None if ranking.target is None else ranking.target.error_rate, *time_raw(row.time),
                  _plan_raw(c)]


def ranking_legend(ranking: Ranking) -> list[str]:
    s, ref = ranking.settings, ranking.reference
    minimums = ", ".join(f"{m.format(s.min_effects[m.name]).lstrip('+')} {m.header}" for m in METRICS
                         if m.name in RANK_METRICS)
    lines = [
        f"rank: by mean final error_rate (1 = lowest); rows in the session table's order. Δ error_rate: "
        f"difference of means from {ref} in percentage points; wall ×, peak MB ×: ratio of geometric means to "
        f"{ref}'s.",
        f"p: paired t-test over the seeds both ran successfully (Welch's where they share none; seeds left out are "
        f"named below), on log values for the ratios, "
        f"Holm-adjusted over the rows of each column; verdict: better/worse when p < {s.alpha:g} and the change is "
        f"at least {minimums} (mixed: some columns better, others worse), otherwise within noise; n=1: no test, "
        "the minimum alone decides.",
        column_legend(s.alpha),
    ]
    if ranking.target is not None:
        lines.append(f"to target: epochs and wall s until the validation error_rate first reached "
                     f"{ranking.target.error_rate:.4f} ({ranking.target.source}); wall s from the recipe's start, "
                     "lr_find and everything else included; median over seeds, a run that never got there (or failed) "
                     "counting as never, [min-max] of those that did.")
        if any(r.time and CLOCK_EPOCHS in r.time.clocks for r in ranking.rows):
            lines.append("results written before schema 5 have no clock per epoch: their time to target counts "
                         "epochs only (no lr_find).")
    return lines + list(ranking.notes)
