"""The session table (every recorded metric's column, from :mod:`recipebench.render.columns`) and ``epochs.png``.

Every result becomes one row for the whole run, one per outcome (sub-result) and one per evaluation of either
(``recipe > tta``), through :func:`recipebench.analysis.rows.rows`; the tables never special-case a recipe.
Several seeds of the same row are summarised: metrics as mean +- std (n), wall time as median [min-max].
``epochs.png`` plots error_rate per epoch (and the lr_find curves) whatever ``--metric`` says.
"""
from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence, Tuple

from recipebench.analysis import ranking
from recipebench.render import comparison as report
from recipebench.record.atomic import atomic_write
from recipebench.analysis.ranking import Ranking
from recipebench.record.results import STATUS_OK, RunResult, SkippedCase
from recipebench.analysis.rows import Row, grouped
from recipebench.analysis.stats import Summary
from recipebench.analysis.metrics import choose, measured
from recipebench.record.results import ERROR_RATE, MetricSpec
from recipebench.render.columns import Column, cells, headers
from recipebench.render.tables import error_text, format_table, rate_text, spread_text

#: After "wall s" where some row is an evaluation's (``--evaluate tta``): its own time, apart from the training's.
INFERENCE_HEADER = "inference s"


def _epochs(values: Sequence[int | None]) -> str:
    got = sorted(v for v in values if v is not None)
    if not got:
        return ""
    return f"ep {got[0]}" if got[0] == got[-1] else f"ep {got[0]}-{got[-1]}"


def _joined(values: Iterable[str], sep: str = ",") -> str:
    """The distinct values in first-seen order (a table cell keeps them tight, a sentence spaces them)."""
    return sep.join(dict.fromkeys(values))


def evaluated(groups: Mapping[str, Sequence[Row]]) -> bool:
    """Whether some row is an evaluation's (it has an inference time): the tables then show that column."""
    return any(r.inference_s is not None for g in groups.values() for r in g)


#: An item of the session table: a row's label and its runs (one per seed).
Group = Tuple[str, Sequence[Row]]


def _ok(group: Sequence[Row]) -> list[Row]:
    return [r for r in group if r.status == STATUS_OK]


def _summary_raw(name: str, picks: Sequence[str], values: Callable[[Sequence[Row]], Iterable], whole: bool = False):
    """csv columns ``name_pick`` of a Summary of ``values(successful runs)`` (whole numbers with ``whole``)."""
    def read(pick):
        def value(item: Group):
            got = Summary.of(values(_ok(item[1])))
            v = None if got is None else getattr(got, pick)
            return int(v) if whole and v is not None else v
        return value
    return tuple((f"{name}_{pick}", read(pick)) for pick in picks)


def metric_column(spec: MetricSpec) -> Column[Group]:
    """A metric's final value over seeds: mean ± std (n), with the failed runs named."""
    return Column(spec.header, lambda item: error_text(item[1], spec.name, spec.digits),
                  _summary_raw(spec.name, ("mean", "std"), lambda ok: [r.value(spec.name) for r in ok]))


def best_column(spec: MetricSpec) -> Column[Group]:
    """The best epoch value of the chosen metric over seeds, and the epochs it came at."""
    def text(item: Group) -> str:
        ok = _ok(item[1])
        best = Summary.of(r.best(spec)[0] for r in ok)
        return "-" if best is None else f"{rate_text(best, spec.digits)} ({_epochs([r.best(spec)[1] for r in ok])})"

    return Column("best (epoch)", text,
                  _summary_raw(f"best_{spec.name}", ("mean", "std"), lambda ok: [r.best(spec)[0] for r in ok])
                  + _summary_raw("best_epoch", ("min", "max"), lambda ok: [r.best(spec)[1] for r in ok], whole=True))


def _joined_column(header: str) -> Column[Group]:
    return Column(header, lambda item: _joined(getattr(r, header) for r in item[1]),
                  ((header, lambda item: _joined(getattr(r, header) for r in item[1])),))


def _memory_text(item: Group) -> str:
    memory = Summary.of(r.peak_memory_bytes for r in _ok(item[1]))
    return "-" if memory is None else f"{memory.max / 2**20:.0f}"


def summary_columns(metrics: Sequence[MetricSpec], chosen: MetricSpec, inference: bool = False) -> list[Column[Group]]:
    """recipe | the chosen metric | best (epoch) | each other metric | wall s | [inference s] | img/s | peak MB |
    precision | device | arch: one column per recorded metric, the chosen one (``--metric``) first; ``inference``:
    the evaluations' own time (:data:`INFERENCE_HEADER`), where some row is an evaluation's (``--evaluate``)."""
    spread = ("median", "min", "max")
    return [
        Column("recipe", lambda item: item[0], (("label", lambda item: item[0]),
                                                ("runs", lambda item: len(_ok(item[1]))),
                                                ("failed", lambda item: len(item[1]) - len(_ok(item[1]))))),
        metric_column(chosen),
        best_column(chosen),
        *(metric_column(m) for m in metrics if m.name != chosen.name),
        Column("wall s", lambda item: spread_text(Summary.of(r.wall_s for r in _ok(item[1]))),
               _summary_raw("wall_s", spread, lambda ok: [r.wall_s for r in ok])),
        *[Column(INFERENCE_HEADER, lambda item: spread_text(Summary.of(r.inference_s for r in _ok(item[1])), 2),
                 _summary_raw("inference_s", spread, lambda ok: [r.inference_s for r in ok]))] * inference,
        Column("img/s", lambda item: spread_text(Summary.of(r.samples_per_s for r in _ok(item[1])), 0),
               _summary_raw("samples_per_s", spread, lambda ok: [r.samples_per_s for r in ok])),
        Column("peak MB", _memory_text,
               _summary_raw("peak_memory_bytes", ("max",), lambda ok: [r.peak_memory_bytes for r in ok], whole=True)),
        _joined_column("precision"),
        _joined_column("device"),
        _joined_column("arch"),
    ]


def chosen_metric(results: Sequence[RunResult], metric: str | None) -> tuple[tuple[MetricSpec, ...], MetricSpec]:
    """The metrics the results recorded and the one ``--metric`` chose (a MetricError names the others)."""
    specs = measured(results) or (ERROR_RATE,)
    return specs, choose(specs, metric)


def summary_table(results: Iterable[RunResult], fmt: str = "text", skipped: Sequence[SkippedCase] = (),
                  metric: str | None = None) -> str:
    """recipe | the chosen metric (``--metric``, default error_rate) | best (epoch) | the other metrics |
    wall s | img/s | peak MB | precision | device | arch; then a row for each recipe that did not train,
    ``skipped`` and nothing else: why goes under the table (:func:`skipped_lines`), so a long reason never
    widens a column."""
    results = list(results)
    groups = grouped(results)
    columns = summary_columns(*chosen_metric(results, metric), inference=evaluated(groups))
    body = [cells(columns, item, fmt) for item in groups.items()]
    width = len(headers(columns, fmt))
    for recipe, cases in _by_recipe(skipped).items():
        body.append([recipe, f"skipped ({len(cases)})", *["-"] * (width - 2)])
    return format_table(headers(columns, fmt), body, fmt)


def skipped_lines(skipped: Sequence[SkippedCase]) -> list[str]:
    """Why each skipped recipe did not train, a line each: ``resnet50_mixed_precision (seed 0) skipped: ...``."""
    lines = []
    for recipe, cases in _by_recipe(skipped).items():
        seeds = ",".join(str(c.seed) for c in cases)
        reasons = _joined((c.reason for c in cases), "; ")
        lines.append(f"{recipe} (seed {seeds}) {reasons if reasons.startswith('skipped') else 'skipped: ' + reasons}")
    return lines


def _by_recipe(skipped: Sequence[SkippedCase]) -> dict[str, list[SkippedCase]]:
    out: dict[str, list[SkippedCase]] = {}
    for case in skipped:
        out.setdefault(case.recipe, []).append(case)
    return out


def context_lines(results: Sequence[RunResult]) -> list[str]:
    """What the table's numbers depend on, in a few lines."""
    if not results:
        return []
    r = results[0]
    c = r.config
    weights = _joined((f"{x.weights.source} ({x.weights.arch})" for x in results), ", ")
    seeds = sorted({x.seed for x in results})
    return [
        f"workload {r.workload} ({r.n_classes} classes, {r.n_train} train / {r.n_valid} valid images, split "
        f"{c.split}), "
        f"scale {r.scale}: Resize({c.presize}), size {c.image_size}, bs {c.batch_size}; seeds {seeds}",
        f"device {r.device_name}; torch {r.versions.get('torch')}, fastai {r.versions.get('fastai')}; "
        f"weights: {weights}",
        "wall s / img/s: median [min-max] over seeds; img/s counts training images only; peak MB: "
        + _joined(x.peak_memory_method for x in results),
        *[f"{label}: evaluated by the harness after the recipe, on the weights of the row the label extends "
          f"(RECIPE or RECIPE > OUTCOME); wall s: the training of those weights; {INFERENCE_HEADER}: the "
          f"evaluation's own time, median [min-max] over seeds" for label in [_evaluations_label(results)] if label],
    ]


def _evaluations_label(results: Sequence[RunResult]) -> str:
    """``RECIPE > tta rows`` (one name per evaluation run), for the line that says what they are; empty when
    no run was evaluated so."""
    names = list(dict.fromkeys(e.name for r in results for e in r.evaluations))
    return " and ".join(f"RECIPE > {name}" for name in names) + " rows" if names else ""


def most_confused_lines(results: Sequence[RunResult], top: int = 3) -> list[str]:
    """The most confused pairs per recipe, summed over seeds."""
    lines = []
    for label in dict.fromkeys(r.recipe for r in results):
        counts: Counter = Counter()
        for result in results:
            if result.recipe == label:
                for p in result.most_confused:
                    counts[(p.actual, p.predicted)] += p.count
        if counts:
            pairs = ", ".join(f"{a} -> {p} ({n})" for (a, p), n in counts.most_common(top))
            lines.append(f"{label}: {pairs}")
    return lines


def plot_epochs(results: Sequence[RunResult], path: Path) -> Path:
    """error_rate per epoch for every run (frozen epochs as hollow markers), and lr_find curves, written to
    ``path`` or, if that is taken, the next free name (never overwritten); returns the path written."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    finds = [(r, f) for r in results for f in r.lr_finds]
    fig, axes = plt.subplots(1, 2 if finds else 1, figsize=(13 if finds else 8, 5), squeeze=False)
    ax = axes[0][0]
    for r in results:
        if not r.epochs:
            continue
        xs = [e.epoch for e in r.epochs]
        ys = [e.error_rate for e in r.epochs]
        (line,) = ax.plot(xs, ys, label=f"{r.recipe} s{r.seed}")
        frozen = [(x, y) for x, y, e in zip(xs, ys, r.epochs) if e.phase == "frozen"]
        if frozen:
            ax.scatter(*zip(*frozen), facecolors="none", edgecolors=line.get_color())
    ax.set_xlabel("epoch (hollow: body frozen)")
    ax.set_ylabel("error_rate (validation)")
    ax.set_title("error_rate per epoch")
    ax.legend(fontsize=7)
    if finds:
        ax2 = axes[0][1]
        for r, f in finds:
            (line,) = ax2.plot(f.lrs, f.losses, label=f"{r.recipe} s{r.seed}")
            for lr in f.suggestions.values():
                ax2.axvline(lr, color=line.get_color(), linestyle=":", linewidth=1)
        ax2.set_xscale("log")
        ax2.set_xlabel("learning rate (dotted: suggestions)")
        ax2.set_ylabel("smoothed loss")
        ax2.set_title("lr_find")
        ax2.legend(fontsize=7)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    return atomic_write(path, png.getvalue(), overwrite=False)


def session_csv(results: Sequence[RunResult], ranked: Ranking, skipped: Sequence[SkippedCase] = ()) -> str:
    """One row per recipe and sub-result: the summary's and the ranking's raw numbers (one column model each);
    then a row for each recipe that did not train, its reason in the last column (empty for the others)."""
    by_label = {r.label: r for r in ranked.rows}
    groups = grouped(results)
    summary = summary_columns(*chosen_metric(results, ranked.metric.name), inference=evaluated(groups))
    columns = [*(c.on(lambda item: (item[0], item[1])) for c in summary),
               *(c.on(lambda item: by_label[item[0]]) for c in report.ranking_columns(ranked)),
               Column(None, raw=(("skipped", lambda item: ""),))]
    body = [cells(columns, item, "csv") for item in groups.items()]
    width = len(headers(columns, "csv"))
    for recipe, cases in _by_recipe(skipped).items():
        body.append([recipe, 0, 0, *[None] * (width - 4), _joined((c.reason for c in cases), "; ")])
    return format_table(headers(columns, "csv"), body, "csv")


def session_report(results: Sequence[RunResult], fmt: str = "text", reference: str | None = None,
                   target_error: float | None = None, skipped: Sequence[SkippedCase] = (),
                   metric: str | None = None) -> str:
    """The table, the ranking against ``reference`` by ``metric`` (``--metric``; default error_rate, with time
    to ``target_error``, default: the reference's mean final value of it), their context and the
    most-confused pairs, as printed at the end of a session; a recipe that did not train (``skipped``) is a
    row that says why. csv: one table of raw numbers."""
    metric = chosen_metric(results, metric)[1].name if results else metric
    ranked = ranking.rank(results, reference, target_error, metric=metric)
    if fmt == "csv":
        return session_csv(results, ranked, skipped)
    item = "- " if fmt == "markdown" else ""  # markdown would run plain lines into one paragraph
    parts = [summary_table(results, fmt, skipped, metric), *([""] + [item + line for line in skipped_lines(skipped)]
                                                             if skipped else []),
             "", report.ranking_table(ranked, fmt), ""]
    parts += [item + line for line in [*report.ranking_legend(ranked), *context_lines(results)]]
    confused = most_confused_lines(results)
    if confused:
        parts += ["", "most confused (actual -> predicted, count):"]
        parts += [item + line for line in confused]
    return "\n".join(parts).rstrip("\n")
