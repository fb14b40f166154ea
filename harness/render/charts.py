"""Charts of saved results, as PNG bytes: what ``recipebench report`` embeds.

Every chart takes one result set or several side by side (base and new, two torch versions), drawn on
shared axes so they read across, and a :class:`Palette` that gives each recipe (and sub-result) the
same colour in every chart:

* :func:`error_by_epoch` -- validation error rate per epoch, the mean over seeds with a min-max band,
  one panel per recipe, the epochs trained with the body frozen shaded, the reference's mean dashed;
* :func:`losses`         -- the training loss of every batch and the validation loss of every epoch;
* :func:`lr_finds`       -- each lr_find's curves, its suggestions and the learning rate then passed on;
* :func:`error_vs_time`  -- final error rate against wall time, one point per row with its spread over
  seeds, the marker's area proportional to peak memory, and the Pareto front.

A recipe whose run has sub-results (outcomes) is drawn per sub-result in the per-epoch charts: its
whole run strings arms together that each restart from a shared start.
Matplotlib draws off-screen (Agg); nothing here reads anything but the results.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from recipebench.record.results import ERROR_RATE, STATUS_OK, EpochRecord, LrFindRecord, MetricSpec, RunResult
from recipebench.analysis.rows import OUTCOME_SEP, grouped
from recipebench.analysis.stats import Summary

#: Width of every chart in inches (at DPI: about GitHub's column width), and the font sizes.
WIDTH_IN = 11.0
DPI = 100
STYLE = {"font.size": 11, "axes.titlesize": 11, "axes.labelsize": 11, "xtick.labelsize": 10,
         "ytick.labelsize": 10, "legend.fontsize": 10, "figure.titlesize": 13}
FROZEN_SHADE = {"color": "0.85", "alpha": 0.6, "linewidth": 0}
#: Training methods whose learning rate argument an lr_find's suggestion is passed on to.
FIT_LR_ARGS = {"fine_tune": "base_lr", "fit_one_cycle": "lr_max", "fit_flat_cos": "lr", "fit_sgdr": "lr_max",
               "fit": "lr"}


@dataclass(frozen=True)
class ResultSet:
    """One side of a report: a name (base, new, a path) and its results."""

    name: str
    results: tuple[RunResult, ...]
    tag: str = ""  # what a panel calls it when sets stand side by side: "base", "new"


@dataclass(frozen=True)
class Palette:
    """One colour per label, the same in every chart of a report."""

    colours: Mapping[str, Any]

    @classmethod
    def of(cls, sets: Sequence[ResultSet]) -> Palette:
        import matplotlib

        labels = list(dict.fromkeys(label for s in sets for label in grouped(s.results)))
        # tab10 without its grey (grey marks the reference and the shading), then tab20's light tones
        colours = [c for i, c in enumerate(matplotlib.colormaps["tab10"].colors) if i != 7]
        colours += matplotlib.colormaps["tab20"].colors[1::2]
        return cls({label: colours[i % len(colours)] for i, label in enumerate(labels)})

    def __call__(self, label: str):
        return self.colours.get(label, "0.3")


@dataclass(frozen=True)
class Series:
    """The epochs of one label's runs (one tuple per successful seed)."""

    label: str
    runs: tuple[tuple[EpochRecord, ...], ...]

    @property
    def longest(self) -> int:
        """The most epochs any seed ran."""
        return max(len(r) for r in self.runs)

    def by_epoch(self, value) -> list[tuple[int, Summary]]:
        """(epoch, summary over seeds of ``value(epoch record)``) for every epoch some seed reached."""
        out = []
        for i in range(self.longest):
            s = Summary.of(value(r[i]) for r in self.runs if i < len(r))
            if s is not None:
                out.append((i + 1, s))
        return out

    @property
    def frozen_epochs(self) -> int:
        """How many leading epochs trained with the body frozen (the first seed's)."""
        n = 0
        for e in self.runs[0]:
            if e.phase != "frozen":
                break
            n += 1
        return n


def epoch_series(results: Sequence[RunResult]) -> dict[str, Series]:
    """Per label, the epochs of its successful runs: a run with sub-results gives one series per
    sub-result instead of its own (its arms each continue the shared start)."""
    out: dict[str, list[tuple[EpochRecord, ...]]] = {}
    for r in results:
        if r.status != STATUS_OK:
            continue
        parts = [(f"{r.recipe}{OUTCOME_SEP}{o.name}", o.epochs) for o in r.outcomes] or [(r.recipe, r.epochs)]
        for label, epochs in parts:
            if epochs:
                out.setdefault(label, []).append(tuple(epochs))
    return {label: Series(label, tuple(runs)) for label, runs in out.items()}


@dataclass(frozen=True)
class Grid:
    """Panels: one per label (wrapped in columns) for one set; a row per label, a column per set for several."""

    fig: Any
    axes: Mapping[tuple[str, int], Any]
    bottom: frozenset  # (label, side) keys of panels in the bottom row of their column
    left: frozenset

    def __iter__(self) -> Iterator[tuple[str, int, Any]]:
        for (label, side), ax in self.axes.items():
            yield label, side, ax


def _grid(plt, labels: Sequence[str], sides: int, panel_h_in: float = 2.5, columns: int = 3,
          sharey: bool = True) -> Grid:
    if sides == 1:
        ncols = max(1, min(columns, len(labels)))
        nrows = math.ceil(len(labels) / ncols)
        place = {(label, 0): divmod(i, ncols) for i, label in enumerate(labels)}
    else:
        ncols, nrows = sides, len(labels)
        place = {(label, side): (i, side) for i, label in enumerate(labels) for side in range(sides)}
    fig, grid = plt.subplots(nrows, ncols, figsize=(WIDTH_IN, 0.9 + panel_h_in * nrows), squeeze=False,
                             sharey=sharey, sharex=False)
    used = set(place.values())
    for r in range(nrows):
        for c in range(ncols):
            if (r, c) not in used:
                grid[r][c].set_visible(False)
    last_row = {c: max(r for r, cc in used if cc == c) for c in range(ncols)}
    axes = {key: grid[r][c] for key, (r, c) in place.items()}
    if sides > 1:  # a row is one label: its sets read across on one x axis
        for (label, side), ax in axes.items():
            if side:
                ax.sharex(axes[(label, 0)])
    bottom = frozenset(key for key, (r, c) in place.items() if r == last_row[c])
    left = frozenset(key for key, (r, c) in place.items() if c == 0)
    return Grid(fig, axes, bottom, left)


def _finish(fig, title: str, handles: Sequence[Any], ncol: int = 3) -> None:
    """The figure's title, a legend row under it, and the panels below both."""
    height = fig.get_figheight()
    fig.suptitle(title, y=1 - 0.1 / height, va="top")
    rows = math.ceil(len(handles) / ncol) if handles else 0
    if handles:
        fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.42 / height), ncol=ncol,
                   frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.35 + 0.28 * rows) / height))


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    plt.close(fig)
    return out.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _panel_title(ax, label: str, series: Series | None, sets: Sequence[ResultSet], side: int) -> None:
    n = "" if series is None else f" (n={len(series.runs)})"
    ax.set_title(f"{_where(sets, side)}{label}{n}", loc="left")


def _where(sets: Sequence[ResultSet], side: int) -> str:
    return f"{sets[side].tag or sets[side].name}: " if len(sets) > 1 else ""


def _shade_frozen(ax, series: Series, start: float = 0.5) -> None:
    """Shade the frozen epochs: epoch e drawn at x = e (``start`` 0.5) or spanning e-1..e (``start`` 0)."""
    if series.frozen_epochs:
        ax.axvspan(start, series.frozen_epochs + start, **FROZEN_SHADE)


def _labels_of(sets: Sequence[ResultSet], series_of) -> list[str]:
    return list(dict.fromkeys(label for s in sets for label in series_of(s.results)))


def _nothing(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", color="0.5")


def _frozen_patch():
    from matplotlib.patches import Patch

    return Patch(**{k: v for k, v in FROZEN_SHADE.items() if k != "linewidth"}, label="body frozen")


def _label_axes(grid: Grid, ylabel: str) -> None:
    """Epochs on the bottom row, ``ylabel`` on the left column; every panel from 0 up, with a grid."""
    for (label, side), ax in grid.axes.items():
        if (label, side) in grid.bottom:
            ax.set_xlabel("epoch")
        if (label, side) in grid.left:
            ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)


def _epoch_ticks(ax, last: int) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlim(0.5, last + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=8))


def error_by_epoch(sets: Sequence[ResultSet], palette: Palette, reference: str | None = None,
                   metric: MetricSpec = ERROR_RATE) -> bytes:
    """Validation ``metric`` (the chosen one: error rate by default) per epoch: mean over seeds, min-max band;
    frozen epochs shaded."""
    from matplotlib.patches import Patch

    plt = _pyplot()
    with plt.rc_context(STYLE):
        per_set = [epoch_series(s.results) for s in sets]
        labels = _labels_of(sets, epoch_series)
        grid = _grid(plt, labels, len(sets))
        for label, side, ax in grid:
            series = per_set[side].get(label)
            _panel_title(ax, label, series, sets, side)
            ref = per_set[side].get(reference) if reference else None
            if ref is not None and label != reference and series is not None:
                points = ref.by_epoch(lambda e: e.metrics.get(metric.name))
                ax.plot([x for x, _ in points], [s.mean for _, s in points], color="0.45", linestyle="--",
                        linewidth=1.2)
            if series is None:
                _nothing(ax, "no runs")
                continue
            _shade_frozen(ax, series)
            points = series.by_epoch(lambda e: e.metrics.get(metric.name))
            xs = [x for x, _ in points]
            colour = palette(label)
            ax.fill_between(xs, [s.min for _, s in points], [s.max for _, s in points], color=colour, alpha=0.25,
                            linewidth=0)
            ax.plot(xs, [s.mean for _, s in points], color=colour, marker="o", markersize=3.5, linewidth=1.8)
            _epoch_ticks(ax, max(xs))
        _label_axes(grid, f"{metric.header} (valid)")
        handles = [_frozen_patch(), Patch(color="0.5", alpha=0.35, label="min-max over seeds")]
        if reference:
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], color="0.45", linestyle="--", label=f"{reference} (mean)"))
        _finish(grid.fig, f"Validation {metric.header} per epoch: mean over seeds", handles, ncol=len(handles))
        return _png(grid.fig)


def _batch_positions(epochs: Sequence[EpochRecord]) -> list[float]:
    """x of each stored batch loss: spread evenly over its epoch (epoch e spans e-1 .. e)."""
    xs: list[float] = []
    for e in epochs:
        n = len(e.batch_losses)
        xs += [e.epoch - 1 + (i + 0.5) / n for i in range(n)]
    return xs


def _mean_batch_losses(series: Series) -> tuple[list[float], list[float], list[float], list[float]]:
    """x, mean, min and max over seeds of the per-batch training losses (runs with as many batches)."""
    runs = [[v for e in run for v in e.batch_losses] for run in series.runs]
    longest = max(range(len(runs)), key=lambda i: len(runs[i]))
    xs = _batch_positions(series.runs[longest])
    means, lows, highs = [], [], []
    for i in range(len(xs)):
        s = Summary.of(run[i] for run in runs if i < len(run))
        means.append(s.mean)
        lows.append(s.min)
        highs.append(s.max)
    return xs, means, lows, highs


def losses(sets: Sequence[ResultSet], palette: Palette) -> bytes:
    """Training loss per batch (mean over seeds, min-max band) and validation loss per epoch."""
    from matplotlib.lines import Line2D

    plt = _pyplot()
    with plt.rc_context(STYLE):
        per_set = [epoch_series(s.results) for s in sets]
        labels = _labels_of(sets, epoch_series)
        grid = _grid(plt, labels, len(sets))
        smoothed_only = False
        for label, side, ax in grid:
            series = per_set[side].get(label)
            _panel_title(ax, label, series, sets, side)
            if series is None:
                _nothing(ax, "no runs")
                continue
            colour = palette(label)
            _shade_frozen(ax, series, start=0.0)
            if all(e.batch_losses for run in series.runs for e in run):
                xs, means, lows, highs = _mean_batch_losses(series)
                ax.fill_between(xs, lows, highs, color=colour, alpha=0.2, linewidth=0)
                ax.plot(xs, means, color=colour, linewidth=1.0)
            else:  # results before schema 5: fastai's smoothed training loss at each epoch's end
                smoothed_only = True
                points = series.by_epoch(lambda e: e.train_loss)
                ax.plot([x for x, _ in points], [s.mean for _, s in points], color=colour, linestyle=":",
                        marker="s", markersize=3.5)
            points = series.by_epoch(lambda e: e.valid_loss)
            ax.plot([x for x, _ in points], [s.mean for _, s in points], color="black", marker="o", markersize=3.5,
                    linewidth=1.2)
            _epoch_ticks(ax, series.longest)
            ax.set_xlim(0, series.longest + 0.2)  # epoch e spans e-1..e
        _label_axes(grid, "cross-entropy loss")
        train = ("training, end of epoch (fastai's smoothed; older results have no per-batch losses)"
                 if smoothed_only else "training, per batch (mean and min-max over seeds)")
        handles = [Line2D([], [], color="0.3", linestyle=":" if smoothed_only else "-", label=train),
                   Line2D([], [], color="black", marker="o", label="validation, per epoch"),
                   _frozen_patch()]
        _finish(grid.fig, "Training and validation loss", handles, ncol=2 if smoothed_only else 3)
        return _png(grid.fig)


def used_lr(result: RunResult, index: int) -> tuple[str, float] | None:
    """The learning rate passed to the first training call after the ``index``-th lr_find (0-based):
    ``("base_lr", 5.8e-3)``; the upper end of a slice. None when no training call took one."""
    finds = [i for i, c in enumerate(result.calls) if c.method == "lr_find"]
    if index >= len(finds):
        return None
    for call in result.calls[finds[index] + 1:]:
        if call.method not in FIT_LR_ARGS:
            continue
        name = FIT_LR_ARGS[call.method]
        value = call.kwargs.get(name, call.args[1] if len(call.args) > 1 else None)
        if isinstance(value, Mapping) and "slice" in value:
            start, stop, _ = value["slice"]
            value = stop if stop is not None else start
        return (name, float(value)) if isinstance(value, (int, float)) else None
    return None


def lr_find_series(results: Sequence[RunResult]) -> dict[str, list[tuple[RunResult, int, LrFindRecord]]]:
    """Per ``recipe`` (``recipe #k`` when it called lr_find more than once), its runs' finds."""
    out: dict[str, list[tuple[RunResult, int, LrFindRecord]]] = {}
    for r in results:
        for k, found in enumerate(r.lr_finds):
            label = r.recipe if len(r.lr_finds) == 1 else f"{r.recipe} #{k + 1}"
            out.setdefault(label, []).append((r, k, found))
    return out


def _median(values: Sequence[float]) -> float:
    return Summary.of(values).median


def lr_finds(sets: Sequence[ResultSet], palette: Palette) -> bytes | None:
    """Each lr_find: every seed's curve, its suggestions (median over seeds, dotted) and the learning
    rate the recipe then passed on (solid). None when no result called lr_find."""
    from matplotlib.lines import Line2D

    per_set = [lr_find_series(s.results) for s in sets]
    labels = _labels_of(sets, lr_find_series)
    if not labels:
        return None
    plt = _pyplot()
    with plt.rc_context(STYLE):
        grid = _grid(plt, labels, len(sets), panel_h_in=3.4, columns=2, sharey=False)
        styles = ("dotted", "dashdot", (0, (1, 3)), (0, (5, 2, 1, 2)))
        for label, side, ax in grid:
            finds = per_set[side].get(label, [])
            ax.set_title(f"{_where(sets, side)}{label} (n={len(finds)})", loc="left")
            if not finds:
                _nothing(ax, "no lr_find")
                continue
            colour = palette(label.split(" #")[0])
            for _, _, found in finds:
                ax.plot(found.lrs, found.losses, color=colour, linewidth=1.2, alpha=0.8)
            lows = [min(f.losses) for _, _, f in finds if f.losses]
            starts = [f.losses[0] for _, _, f in finds if f.losses]
            span = max(starts) - min(lows) if lows and starts else 0.0
            if span > 0:  # from just below the lowest loss to above the start: the explosion is cut off
                ax.set_ylim(min(lows) - 0.1 * span, max(starts) + 0.6 * span)
            marks = []
            names = list(dict.fromkeys(n for _, _, f in finds for n in f.suggestions))
            for style, name in zip(styles, names):
                lr = _median([f.suggestions[name] for _, _, f in finds if name in f.suggestions])
                ax.axvline(lr, color="0.2", linestyle=style, linewidth=1.3)
                marks.append(Line2D([], [], color="0.2", linestyle=style, label=f"{name} {lr:.1e}"))
            used = [u for u in (used_lr(r, k) for r, k, _ in finds) if u is not None]
            if used:
                lr = _median([v for _, v in used])
                ax.axvline(lr, color="crimson", linewidth=2.0)
                marks.append(Line2D([], [], color="crimson", linewidth=2.0, label=f"used: {used[0][0]}={lr:.1e}"))
            ax.legend(handles=marks, loc="upper left", fontsize=9, title="suggestions (median)", title_fontsize=9)
            ax.set_xscale("log")
            ax.grid(True, alpha=0.3, which="both")
            ax.set_xlabel("learning rate (log scale)")
            if (label, side) in grid.left:
                ax.set_ylabel("training loss (smoothed)")
        _finish(grid.fig, "lr_find: loss against learning rate, one curve per seed", [])
        return _png(grid.fig)


@dataclass(frozen=True)
class Point:
    """One row in the trade-off chart."""

    label: str
    error: Summary  # final error rate over seeds
    wall: Summary  # wall s over seeds
    memory_mb: float | None  # peak, over seeds; None for sub-results (not measured)


def trade_off_points(results: Sequence[RunResult], metric: MetricSpec = ERROR_RATE) -> list[Point]:
    """Each row at its mean final ``metric`` (error rate by default) and its wall time over seeds."""
    out = []
    for label, group in grouped(results).items():
        ok = [r for r in group if r.status == STATUS_OK]
        error, wall = Summary.of(r.value(metric.name) for r in ok), Summary.of(r.wall_s for r in ok)
        memory = Summary.of(r.peak_memory_bytes for r in ok)
        if error is not None and wall is not None:
            out.append(Point(label, error, wall, None if memory is None else memory.max / 2**20))
    return out


def pareto_front(points: Sequence[Point], higher_is_better: bool = False) -> list[Point]:
    """The points no other point beats on both wall time and the metric (error rate: lower is better), by
    wall time."""
    sign = -1 if higher_is_better else 1
    front: list[Point] = []
    for p in sorted(points, key=lambda p: (p.wall.median, sign * p.error.mean)):
        if not front or sign * p.error.mean < sign * front[-1].error.mean:
            front.append(p)
    return front


def error_vs_time(sets: Sequence[ResultSet], palette: Palette, metric: MetricSpec = ERROR_RATE) -> bytes:
    """Mean final error rate against median wall time, one point per row with its min-max over seeds on
    both axes, marker area proportional to peak memory, the Pareto front dashed."""
    from matplotlib.lines import Line2D

    plt = _pyplot()
    per_set = [trade_off_points(s.results, metric) for s in sets]
    memories = [p.memory_mb for pts in per_set for p in pts if p.memory_mb]
    area = _MemoryArea.of(memories)

    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(sets), figsize=(WIDTH_IN, 6.2), squeeze=False, sharex=True, sharey=True)
        for side, (ax, points) in enumerate(zip(axes[0], per_set)):
            for p in points:
                colour = palette(p.label)
                ax.errorbar(p.wall.median, p.error.mean,
                            xerr=[[p.wall.median - p.wall.min], [p.wall.max - p.wall.median]],
                            yerr=[[p.error.mean - p.error.min], [p.error.max - p.error.mean]], color=colour,
                            alpha=0.6, linewidth=1.2, capsize=3, zorder=2)
                if p.memory_mb:
                    ax.scatter(p.wall.median, p.error.mean, s=area(p.memory_mb), color=colour, alpha=0.75,
                               edgecolors="black", linewidths=0.6, zorder=3)
                else:
                    ax.scatter(p.wall.median, p.error.mean, s=60, facecolors="white", edgecolors=colour,
                               linewidths=1.8, zorder=3)
            front = pareto_front(points, metric.higher_is_better)
            if len(front) > 1:
                ax.step([p.wall.median for p in front], [p.error.mean for p in front], where="post", color="black",
                        linestyle="--", linewidth=1.2, zorder=1)
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis)
            ax.margins(x=0.1, y=0.12)  # room for the largest markers inside the axes
            ax.grid(True, alpha=0.3, which="both")
            ax.set_xlabel("wall time per run, s (log scale)")
            if side == 0:
                ax.set_ylabel(f"final {metric.header} (valid)")
            if len(sets) > 1:
                ax.set_title(_where(sets, side).rstrip(": ") + (f" ({sets[side].name})" if sets[side].tag else ""),
                             loc="left")
        labels = list(dict.fromkeys(p.label for pts in per_set for p in pts))
        handles = [Line2D([], [], marker="o", linestyle="", color=palette(label), markersize=8, label=label)
                   for label in labels]
        handles.append(Line2D([], [], color="black", linestyle="--", label="Pareto front"))
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="0.3",
                              markersize=8, label="sub-result (no memory of its own)"))
        for mb in area.steps():
            handles.append(Line2D([], [], marker="o", linestyle="", color="0.6", markeredgecolor="black",
                                  markersize=math.sqrt(area(mb)), label=f"peak {mb:,.0f} MB"))
        fig.suptitle(f"Which recipe, and what does it cost: {metric.header} against wall time\n"
                     f"points: mean {metric.header}, median wall time; bars: lowest to highest seed", fontsize=12)
        fig.legend(handles=handles, loc="center right", ncol=1, frameon=False, fontsize=10, labelspacing=1.0,
                   borderaxespad=0.2)
        fig.tight_layout(rect=(0, 0, 0.7, 0.95))
        return _png(fig)


@dataclass(frozen=True)
class _MemoryArea:
    """Marker area (points^2) for a peak memory: growing linearly from the smallest to the largest value
    of the chart, so that differences of a few hundred MB show; the legend names the sizes."""

    low_mb: float
    high_mb: float
    min_area: float = 60.0
    max_area: float = 700.0

    @classmethod
    def of(cls, memories: Sequence[float]) -> _MemoryArea:
        return cls(min(memories), max(memories)) if memories else cls(0.0, 0.0)

    def __call__(self, mb: float) -> float:
        if self.high_mb <= self.low_mb:
            return (self.min_area + self.max_area) / 2
        share = min(1.0, max(0.0, (mb - self.low_mb) / (self.high_mb - self.low_mb)))
        return self.min_area + (self.max_area - self.min_area) * share

    def steps(self) -> list[float]:
        """The smallest, middle and largest value, rounded to two significant digits."""
        if self.high_mb <= 0:
            return []
        values = {self.low_mb, (self.low_mb + self.high_mb) / 2, self.high_mb}
        return sorted({float(f"{v:.2g}") for v in values})


def _plain_log_ticks(axis) -> None:
    """A log axis labelled 1, 2, 5, 10, 20, 50... in plain numbers (not 2x10^1, which crowds side by side)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())
