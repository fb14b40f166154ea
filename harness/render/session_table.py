"""The render stage: tables (tabulate) and plots (matplotlib) from results.

Every result becomes one row for the whole run plus one per outcome (sub-result), through
:func:`recipebench.analysis.rows.rows`; the tables never special-case a recipe. Several seeds of the same row are summarised:
error rates as mean +- std (n), wall time as median [min-max].
"""
from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from recipebench.analysis import ranking
from recipebench.render import comparison as report
from recipebench.record.atomic import atomic_write
from recipebench.analysis.ranking import Ranking
from recipebench.record.results import STATUS_OK, RunResult, SkippedCase
from recipebench.analysis.rows import Row, grouped
from recipebench.analysis.stats import Summary
from recipebench.render.tables import error_text, format_table, rate_text, spread_text

SUMMARY_HEADERS = ("recipe", "error_rate", "best (epoch)", "wall s", "img/s", "peak MB", "precision", "device", "arch")
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


def summary_headers(inference: bool) -> tuple[str, ...]:
    """:data:`SUMMARY_HEADERS`, with :data:`INFERENCE_HEADER` after "wall s" when ``inference``."""
    at = SUMMARY_HEADERS.index("wall s") + 1
    return SUMMARY_HEADERS[:at] + (INFERENCE_HEADER,) * inference + SUMMARY_HEADERS[at:]


def summary_row(label: str, group: Sequence[Row], inference: bool = False) -> list[str]:
    ok = [r for r in group if r.status == STATUS_OK]
    err = error_text(group)
    best = Summary.of(r.best_error_rate for r in ok)
    best_text = "-" if best is None else f"{rate_text(best)} ({_epochs([r.best_epoch for r in ok])})"
    memory = Summary.of(r.peak_memory_bytes for r in ok)
    return [
        label,
        err,
        best_text,
        spread_text(Summary.of(r.wall_s for r in ok)),
        *[spread_text(Summary.of(r.inference_s for r in ok), 2)] * inference,
        spread_text(Summary.of(r.samples_per_s for r in ok), 0),
        "-" if memory is None else f"{memory.max / 2**20:.0f}",
        _joined(r.precision for r in group),
        _joined(r.device for r in group),
        _joined(r.arch for r in group),
    ]


def summary_table(results: Iterable[RunResult], fmt: str = "text", skipped: Sequence[SkippedCase] = ()) -> str:
    """recipe | error_rate | best (epoch) | wall s | img/s | peak MB | precision | device | arch; then a row
    for each recipe that did not train, ``skipped`` and nothing else: why goes under the table
    (:func:`skipped_lines`), so a long reason never widens a column."""
    groups = grouped(results)
    headers = summary_headers(evaluated(groups))
    body = [summary_row(label, group, evaluated(groups)) for label, group in groups.items()]
    for recipe, cases in _by_recipe(skipped).items():
        body.append([recipe, f"skipped ({len(cases)})", *["-"] * (len(headers) - 2)])
    return format_table(headers, body, fmt)


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


SUMMARY_RAW_HEADERS = ("label", "runs", "failed", "error_rate_mean", "error_rate_std", "best_error_rate_mean",
                       "best_error_rate_std", "best_epoch_min", "best_epoch_max", "wall_s_median", "wall_s_min",
                       "wall_s_max", "samples_per_s_median", "samples_per_s_min", "samples_per_s_max",
                       "peak_memory_bytes_max", "precision", "device", "arch")


def summary_raw_headers(inference: bool) -> tuple[str, ...]:
    """:data:`SUMMARY_RAW_HEADERS`, with the inference time's columns after wall_s's when ``inference``."""
    at = SUMMARY_RAW_HEADERS.index("wall_s_max") + 1
    extra = ("inference_s_median", "inference_s_min", "inference_s_max") if inference else ()
    return SUMMARY_RAW_HEADERS[:at] + extra + SUMMARY_RAW_HEADERS[at:]


def summary_raw(label: str, group: Sequence[Row], inference: bool = False) -> list[object]:
    """The summary row's numbers, unformatted, one column each (csv)."""
    ok = [r for r in group if r.status == STATUS_OK]
    out: list[object] = [label, len(ok), len(group) - len(ok)]
    for values, kind in (([r.error_rate for r in ok], "mean"), ([r.best_error_rate for r in ok], "mean"),
                         ([r.best_epoch for r in ok], "range"), ([r.wall_s for r in ok], "spread"),
                         *[([r.inference_s for r in ok], "spread")] * inference,
                         ([r.samples_per_s for r in ok], "spread"), ([r.peak_memory_bytes for r in ok], "max")):
        s = Summary.of(values)
        picks = {"mean": ("mean", "std"), "range": ("min", "max"), "spread": ("median", "min", "max"), "max": ("max",)}
        numbers = [None if s is None else getattr(s, name) for name in picks[kind]]
        out += [int(v) if kind in ("range", "max") and v is not None else v for v in numbers]
    return out + [_joined(r.precision for r in group), _joined(r.device for r in group), _joined(r.arch for r in group)]


def session_csv(results: Sequence[RunResult], ranked: Ranking, skipped: Sequence[SkippedCase] = ()) -> str:
    """One row per recipe and sub-result: the summary's and the ranking's raw numbers; then a row for each
    recipe that did not train, its reason in the last column (empty for the others)."""
    by_label = {r.label: r for r in ranked.rows}
    groups = grouped(results)
    inference = evaluated(groups)
    body = [summary_raw(label, group, inference) + report.ranking_raw(by_label[label], ranked) + [""]
            for label, group in groups.items()]
    width = len(summary_raw_headers(inference)) + len(report.RANKING_RAW_HEADERS)
    for recipe, cases in _by_recipe(skipped).items():
        body.append([recipe, 0, 0, *[None] * (width - 3), _joined((c.reason for c in cases), "; ")])
    return format_table([*summary_raw_headers(inference), *report.RANKING_RAW_HEADERS, "skipped"], body, "csv")


def session_report(results: Sequence[RunResult], fmt: str = "text", reference: str | None = None,
                   target_error: float | None = None, skipped: Sequence[SkippedCase] = ()) -> str:
    """The table, the ranking against ``reference`` (with time to ``target_error``, default: the
    reference's mean final error_rate), their context and the most-confused pairs, as printed at the
    end of a session; a recipe that did not train (``skipped``) is a row that says why. csv: one table
    of raw numbers."""
    ranked = ranking.rank(results, reference, target_error)
    if fmt == "csv":
        return session_csv(results, ranked, skipped)
    item = "- " if fmt == "markdown" else ""  # markdown would run plain lines into one paragraph
    parts = [summary_table(results, fmt, skipped), *([""] + [item + line for line in skipped_lines(skipped)]
                                                     if skipped else []),
             "", format_table(report.RANKING_HEADERS, [report.ranking_cells(r) for r in ranked.rows], fmt), ""]
    parts += [item + line for line in [*report.ranking_legend(ranked), *context_lines(results)]]
    confused = most_confused_lines(results)
    if confused:
        parts += ["", "most confused (actual -> predicted, count):"]
        parts += [item + line for line in confused]
    return "\n".join(parts).rstrip("\n")
