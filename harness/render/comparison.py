"""The compare and matrix reports: a table (markdown, text or csv) and the legend that says how to read it.

csv gives the raw numbers, one column per figure, and no legend; markdown and text give formatted
cells followed by the legend (a bullet list in markdown, ready to paste into a pull request).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence

from recipebench.analysis.compare import (
    Comparison,
    Delta,
    Metric,
    RowComparison,
    Side,
    left_out_text,
    setup_of,
)
from recipebench.analysis.metrics import DEFAULT_METRIC
from recipebench.analysis.matrix import Matrix
from recipebench.analysis.power import column_legend
from recipebench.analysis.ranking import DEFAULT_REFERENCE, RankedRow, Ranking
from recipebench.record.results import STATUS_OK, RunResult
from recipebench.analysis.rows import grouped
from recipebench.analysis.stats import Summary
from recipebench.render.columns import Column, cells, headers, table
from recipebench.render.tables import error_text, escape_markdown, format_table, spread_text
from recipebench.analysis.timetotarget import CLOCK_EPOCHS, Target, TimeSummary, choose_target, summarise

def _p_text(d: Delta) -> str:
    if d.p is None:
        return "no test"
    return "p<0.001" if d.p < 0.001 else f"p={d.p:.2g}"


def _delta_text(d: Delta | None) -> str:
    return "-" if d is None else f"{d.metric.format(d.change)} ({_p_text(d)})"


def _mean_std(values: Sequence[float], digits: int = 4) -> str:
    s = Summary.of(values)
    return f"{s.mean:.{digits}f}" if s.std is None else f"{s.mean:.{digits}f} ± {s.std:.{digits}f}"


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


def _ordered(metrics: Sequence[Metric], chosen: Metric) -> list[Metric]:
    """The recorded metrics, the chosen one first, then the costs, each in its own order."""
    quality = [m for m in metrics if m.spec is not None]
    return [chosen, *(m for m in quality if m.name != chosen.name), *(m for m in metrics if m.spec is None)]


def _delta_raw(m: Metric, *picks: str) -> tuple[tuple[str, object], ...]:
    """csv columns of a metric's delta in a compare row: base, new (centres), change, p, verdict."""
    unit = "pp" if m.unit == "pp" else "pct"
    reads = {"base": (f"{m.name}_base", lambda d: m.center(d.base)), "new": (f"{m.name}_new", lambda d: m.center(d.new)),
             "change": (f"{m.name}_change_{unit}", lambda d: d.change), "p": (f"{m.name}_p", lambda d: d.p),
             "verdict": (f"{m.name}_verdict", lambda d: d.verdict)}

    def value(read):
        return lambda row: None if (d := row.delta(m.name)) is None else read(d)

    return tuple((reads[pick][0], value(reads[pick][1])) for pick in picks)


def compare_columns(comparison: Comparison, times: SideTimes | None = None) -> list[Column[RowComparison]]:
    """recipe | seeds | the chosen metric base → new | Δ of each recorded metric | wall s base → new | Δ wall s |
    Δ img/s | Δ peak MB | to target base → new | seeds needed | verdict; csv: each metric's base, new, change,
    p and verdict, the target, each side's time to it, the seeds needed and the verdict."""
    chosen = comparison.chosen
    columns: list[Column[RowComparison]] = [
        Column("recipe", lambda row: row.label,
               (("label", lambda row: row.label), ("n_base", lambda row: row.n_base), ("n_new", lambda row: row.n_new),
                ("failed_base", lambda row: row.failed_base), ("failed_new", lambda row: row.failed_new),
                ("left_out_seeds_base", lambda row: " ".join(map(str, row.left_out_base))),
                ("left_out_seeds_new", lambda row: " ".join(map(str, row.left_out_new))))),
        Column("seeds", _seeds_text),
    ]
    for m in _ordered(comparison.metrics, chosen):
        if m is chosen or m.name == "wall":
            digits = 1 if m.spec is None else m.digits
            center = (lambda m, digits: lambda row: "-" if (d := row.delta(m.name)) is None else
                      (f"{_mean_std(d.base, digits)} → {_mean_std(d.new, digits)}" if m.spec is not None else
                       f"{m.center(d.base):.{digits}f} → {m.center(d.new):.{digits}f}"))(m, digits)
            columns.append(Column(f"{m.header} base → new", center, _delta_raw(m, "base", "new")))
            columns.append(Column(f"Δ {m.header}", (lambda m: lambda row: _delta_text(row.delta(m.name)))(m),
                                  _delta_raw(m, "change", "p", "verdict")))
        else:
            columns.append(Column(f"Δ {m.header}", (lambda m: lambda row: _delta_text(row.delta(m.name)))(m),
                                  _delta_raw(m, "base", "new", "change", "p", "verdict")))

    def time_text(row: RowComparison) -> str:
        if times is None:
            return "-"
        base_t, new_t = times.of(row.label)
        return f"{_time_short(base_t)} → {_time_short(new_t)}"

    def side_raw(index: int):
        return tuple((f"{h}_{side}", (lambda i, k: lambda row: None if times is None else time_raw(times.of(row.label)[i])[k])(index, k))
                     for side in (("base", "new")[index],) for k, h in enumerate(TIME_RAW_HEADERS))

    columns += [
        Column("to target base → new", time_text,
               ((f"target_{chosen.name}", lambda row: None if times is None else times.target.value),
                *side_raw(0), *side_raw(1))),
        Column("seeds needed", _plan_text, ((f"{chosen.name}_seeds_needed", _plan_raw),)),
        Column("verdict", lambda row: row.verdict, (("verdict", lambda row: row.verdict),)),
    ]
    return columns


def compare_cells(comparison: Comparison, row: RowComparison, times: SideTimes | None = None) -> list[str]:
    """One row of the compare table as text cells."""
    return cells(compare_columns(comparison, times), row, "text")


def compare_headers(comparison: Comparison, times: SideTimes | None = None) -> list[str]:
    return headers(compare_columns(comparison, times), "text")


def compare_table(comparison: Comparison, fmt: str, times: SideTimes | None = None) -> str:
    """The compare table alone, in ``fmt``."""
    return table(compare_columns(comparison, times), comparison.rows, fmt)


def _minimums(comparison: Comparison) -> str:
    s = comparison.settings
    return ", ".join(f"{m.format(s.minimum(m)).lstrip('+')} {m.header}"
                     for m in _ordered(comparison.metrics, comparison.chosen) if s.decides(m))


def _quality_legend(chosen: Metric, others: Sequence[Metric]) -> str:
    """How the recorded metrics' Δ read: the chosen one's, and that the others are shown, not in the verdict."""
    unit = "percentage points" if chosen.unit == "pp" else "% (ratio of geometric means)"
    text = f"{chosen.header}: mean ± std over seeds, Δ in {unit}"
    if others:
        text += (f"; Δ {', '.join(m.header for m in others)}: the same for each (pp or %), shown with their tests "
                 f"but not part of the verdict, which --metric {chosen.name} and the costs make")
    return text


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
    """``--target-error``, else the base side's reference recipe's mean final value of the chosen metric
    (``--metric``; None: no such runs)."""
    target = choose_target(grouped(comparison.base.results), reference or DEFAULT_REFERENCE, target_error,
                           comparison.chosen.spec)
    if target is None or target_error is not None:
        return target
    return Target(target.value, f"{target.source}, in base", target.metric)


def compare_legend(comparison: Comparison, times: SideTimes | None = None) -> list[str]:
    alpha = comparison.settings.alpha
    chosen = comparison.chosen
    others = [m for m in comparison.metrics if m.spec is not None and m.name != chosen.name]
    target = ([f"to target: median wall s (from the recipe's start) and epochs until the validation "
               f"{times.target.metric.name} first reached {times.target.value:.{times.target.metric.digits}f} "
               f"({times.target.source}); not reached (or failed) counts as never; (k/n): runs that got there, "
               "when not all"] if times is not None else [])
    return [
        f"Δ: new against base. {_quality_legend(chosen, others)}; "
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
        column_legend(comparison.settings.alpha, metric=comparison.chosen.name),
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
    text = table(compare_columns(comparison, times), comparison.rows, fmt)
    return text if fmt == "csv" else _with_legend(text, compare_legend(comparison, times), fmt)


def _matrix_csv(matrix: Matrix, metric: str) -> str:
    names = ["label", matrix.by, "n", "failed", f"{metric}_mean", f"{metric}_std", "wall_s_median",
             "wall_s_min", "wall_s_max"]
    body = []
    for label, row in matrix.cells.items():
        for value, group in row.items():
            ok = [r for r in group if r.status == STATUS_OK]
            err, wall = Summary.of(r.value(metric) for r in ok), Summary.of(r.wall_s for r in ok)
            body.append([label, value, len(ok), len(group) - len(ok),
                         *((None, None) if err is None else (err.mean, err.std)),
                         *((None, None, None) if wall is None else (wall.median, wall.min, wall.max))])
    return format_table(names, body, "csv")


def _setup_line(results: Sequence[RunResult], by: str) -> str:
    setup = {f: "/".join(v) for f, v in setup_of(results).items()}
    return ", ".join(f"{f} {v}" for f, v in setup.items() if f != by)


def matrix_report(matrix: Matrix, fmt: str = "markdown", metric: str = DEFAULT_METRIC) -> str:
    """One row per recipe and sub-result, for each value of ``by`` a column of ``metric`` and a wall s column."""
    if fmt == "csv":
        return _matrix_csv(matrix, metric)
    names = ["recipe"] + [f"{matrix.by} {v}: {what}" for v in matrix.values for what in (metric, "wall s")]
    body = []
    for label, row in matrix.cells.items():
        row_cells = [label]
        for value in matrix.values:
            group = row.get(value, ())
            ok = [r for r in group if r.status == STATUS_OK]
            row_cells += [error_text(group, metric) if group else "-",
                          spread_text(Summary.of(r.wall_s for r in ok)) if group else "-"]
        body.append(row_cells)
    legend = [f"{metric}: mean ± std (n) over seeds; wall s: median [min-max] over seeds.",
              _setup_line(matrix.results, matrix.by),
              *matrix.notes]
    return _with_legend(format_table(names, body, fmt), legend, fmt)


# --- the ranking against a reference, and time to target ---------------------------------------------------

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


def _ranking_verdict(row: RankedRow) -> str:
    c = row.comparison
    failed = Counter(row.failures)
    if row.runs == 0:  # as every table says it: ERROR, DIVERGED
        return "/".join(status.upper() for status in failed) or "-"
    verdict = "reference" if row.reference else "-" if c is None else c.verdict
    return verdict + (f" ({', '.join(f'{n} {status}' for status, n in failed.items())})" if failed else "")


#: The ranking's short headers of the cost ratios.
RATIO_HEADERS = {"wall": "wall ×", "memory": "peak MB ×"}


def _ranking_delta(m: Metric, ratio: bool) -> Column[RankedRow]:
    """Δ of a metric from the reference: a difference in pp, or a ratio (wall ×, peak MB ×, a % metric)."""
    def delta(row: RankedRow) -> Delta | None:
        return row.comparison.delta(m.name) if row.comparison else None

    def value(row: RankedRow):
        d = delta(row)
        return None if d is None else d.change if d.metric.unit == "pp" else 1 + d.change / 100

    name = f"{m.name}_change_pp" if m.unit == "pp" else f"{m.name}_ratio"
    header = RATIO_HEADERS.get(m.name, f"{m.header} ×") if ratio else f"Δ {m.header}"
    text = (lambda row: _ratio_text(delta(row))) if ratio else (lambda row: _delta_text(delta(row)))
    return Column(header, lambda row: text(row) if row.comparison else "-",
                  ((name, value), (f"{m.name}_p", lambda row: None if (d := delta(row)) is None else d.p)))


def ranking_columns(ranking: Ranking) -> list[Column[RankedRow]]:
    """recipe | rank | the ranking's metric (--metric) | Δ of each recorded metric | wall × | peak MB × | verdict |
    epochs to target | s to target | seeds needed; csv (beside the session table's): rank, each Δ and its p,
    the verdict, the target, the time to it and the seeds needed."""
    chosen = ranking.metric
    digits = chosen.digits

    def value_text(row: RankedRow) -> str:
        v = row.value
        return "-" if v is None else f"{v.mean:.{digits}f}" + ("" if v.std is None else f" ± {v.std:.{digits}f}")

    quality = [m for m in _ordered(ranking.metrics, chosen) if m.spec is not None]
    return [
        Column("recipe", lambda row: row.label),
        Column("rank", lambda row: "-" if row.rank is None else str(row.rank), (("rank", lambda row: row.rank),)),
        Column(chosen.header, value_text),
        *(_ranking_delta(m, ratio=False) for m in quality),
        *(_ranking_delta(m, ratio=True) for m in ranking.metrics if m.spec is None),
        Column("verdict", _ranking_verdict,
               (("verdict_vs_reference",
                 lambda row: "reference" if row.reference else (row.comparison.verdict if row.comparison else None)),)),
        Column("epochs to target", lambda row: time_cells(row.time)[0],
               ((f"target_{chosen.name}", lambda row: None if ranking.target is None else ranking.target.value),
                *((h, (lambda k: lambda row: time_raw(row.time)[k])(k)) for k, h in enumerate(TIME_RAW_HEADERS)))),
        Column("s to target", lambda row: time_cells(row.time)[1]),
        Column("seeds needed", lambda row: _plan_text(row.comparison),
               ((f"{chosen.name}_seeds_needed", lambda row: _plan_raw(row.comparison)),)),
    ]


def ranking_table(ranking: Ranking, fmt: str) -> str:
    """The ranking as a table in ``fmt``."""
    return table(ranking_columns(ranking), ranking.rows, fmt)


def ranking_cells(ranking: Ranking, row: RankedRow) -> list[str]:
    """One row of the ranking as text cells."""
    return cells(ranking_columns(ranking), row, "text")


def ranking_headers(ranking: Ranking) -> list[str]:
    return headers(ranking_columns(ranking), "text")


def ranking_legend(ranking: Ranking) -> list[str]:
    s, ref, chosen = ranking.settings, ranking.reference, ranking.metric
    minimums = ", ".join(f"{m.format(s.minimum(m)).lstrip('+')} {m.header}"
                         for m in _ordered(ranking.metrics, chosen) if s.decides(m))
    others = [m.header for m in ranking.metrics if m.spec is not None and m.name != chosen.name]
    how = (f"difference of means from {ref} in percentage points" if chosen.unit == "pp" else
           f"ratio of geometric means to {ref}'s, in %")
    lines = [
        f"rank: by mean final {chosen.name} (1 = {'lowest' if chosen.higher_is_worse else 'highest'}); rows in the "
        f"session table's order. Δ {chosen.header}: {how}; wall ×, peak MB ×: ratio of geometric means to "
        f"{ref}'s." + (f" Δ {', '.join(others)}: the same for each (pp or %), shown with their tests but not part "
                       f"of the verdict, which --metric {chosen.name} and the costs make." if others else ""),
        f"p: paired t-test over the seeds both ran successfully (Welch's where they share none; seeds left out are "
        f"named below), on log values for the ratios, "
        f"Holm-adjusted over the rows of each column; verdict: better/worse when p < {s.alpha:g} and the change is "
        f"at least {minimums} (mixed: some columns better, others worse), otherwise within noise; n=1: no test, "
        "the minimum alone decides.",
        column_legend(s.alpha, metric=chosen.name),
    ]
    if ranking.target is not None:
        target = ranking.target
        lines.append(f"to target: epochs and wall s until the validation {target.metric.name} first reached "
                     f"{target.value:.{target.metric.digits}f} ({target.source}); wall s from the recipe's start, "
                     "lr_find and everything else included; median over seeds, a run that never got there (or failed) "
                     "counting as never, [min-max] of those that did.")
        if any(r.time and CLOCK_EPOCHS in r.time.clocks for r in ranking.rows):
            lines.append("results written before schema 5 have no clock per epoch: their time to target counts "
                         "epochs only (no lr_find).")
    return lines + list(ranking.notes)
