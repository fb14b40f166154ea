"""``recipebench report``: ``report.md`` (renders on GitHub, beside its PNGs) and a self-contained
``report.html`` (the PNGs embedded), made from saved results alone.

One result set: the ranking against the reference with time to target, the session table, the charts
of :mod:`recipebench.render.charts` and the most-confused pairs. Two sets (base and new, or two torch
versions): the compare table first, each side's ranking, and the same charts with the sides next to
each other on shared axes. The report is a list of blocks written out twice, as markdown and as HTML.
"""
from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

from recipebench.render import charts
from recipebench.analysis import compare
from recipebench.analysis import ranking
from recipebench.render import session_table as render
from recipebench.render import comparison as report
from recipebench.record.atomic import atomic_write
from recipebench.record.results import MetricSpec
from recipebench.analysis.rows import grouped
from recipebench.render.columns import cells, headers
from recipebench.render.tables import escape_markdown, format_table

REPORT_FILES = ("report.md", "report.html")


class ReportError(ValueError):
    """A report that cannot be written where asked; the message names the file."""


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    body: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Figure:
    file: str  # written beside report.md
    png: bytes
    alt: str
    caption: str


Block = Union[Heading, Para, Bullets, Table, Figure]


def _table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> Table:
    return Table(tuple(headers), tuple(tuple(str(c) for c in row) for row in body))


def _ranking_blocks(ranked: ranking.Ranking, legend: bool = True) -> list[Block]:
    blocks: list[Block] = [_table(report.ranking_headers(ranked), [report.ranking_cells(ranked, r) for r in ranked.rows])]
    return blocks + ([Bullets(tuple(report.ranking_legend(ranked)))] if legend else [])


def _figures(sets: Sequence[charts.ResultSet], reference: str, metric: MetricSpec) -> list[Block]:
    """The charts, of the ranking's metric (``--metric``; the files keep their names whatever it is)."""
    palette = charts.Palette.of(sets)
    sides = " Sides next to each other on shared axes." if len(sets) > 1 else ""
    m = metric.header
    out: list[Block] = [
        Heading(f"{m} per epoch"),
        Figure("error_by_epoch.png", charts.error_by_epoch(sets, palette, reference, metric),
               f"validation {m} per epoch",
               f"Validation {m} after each epoch, one panel per recipe (a recipe with sub-results: one per "
               "sub-result): the mean over seeds, the band from the lowest to the highest seed; shaded: the epochs "
               f"trained with the pretrained body frozen; dashed grey: {reference}'s mean for comparison." + sides),
        Heading("Training and validation loss"),
        Figure("loss.png", charts.losses(sets, palette), "training loss per batch, validation loss per epoch",
               "Cross-entropy loss: the raw training loss of every batch (mean over seeds, band min-max), and the "
               "validation loss at the end of each epoch (black). Results written before schema 5 recorded no "
               "per-batch losses: they show fastai's smoothed training loss at each epoch's end instead." + sides),
    ]
    found = charts.lr_finds(sets, palette)
    if found is not None:
        out += [Heading("lr_find"),
                Figure("lr_find.png", found, "lr_find curves",
                       "Every lr_find a recipe made: the smoothed training loss against the learning rate, one "
                       "curve per seed; the finder's suggestions (median over seeds, black) and the learning rate "
                       "the recipe then passed to its next training call (red; the top of a slice)." + sides)]
    better = "lower" if metric.better == "lower" else "higher"
    out += [Heading(f"{m} against wall time"),
            Figure("error_vs_time.png", charts.error_vs_time(sets, palette, metric), f"final {m} against wall time",
                   f"The trade-off: each recipe and sub-result at its mean final {m} ({better} is better) and median "
                   "wall time "
                   "(log scale), bars from the lowest to the highest seed; the marker's area grows with peak memory "
                   "from the smallest to the largest in the chart (hollow: a sub-result, which has no peak memory "
                   "of its own); dashed: the Pareto front, the rows no other row beats on both time and "
                   f"{m}." + sides)]
    return out


def _confused(results) -> list[Block]:
    lines = render.most_confused_lines(results)
    return [Bullets(tuple(lines))] if lines else [Para("No confused pairs recorded.")]


def single_report(results_set: charts.ResultSet, reference: str | None, target_error: float | None,
                  metric: str | None = None) -> list[Block]:
    results = results_set.results
    ranked = ranking.rank(results, reference, target_error, metric=metric)
    groups = grouped(results)
    columns = render.summary_columns(*render.chosen_metric(results, ranked.metric.name),
                                     inference=render.evaluated(groups))
    summary = [cells(columns, item, "text") for item in groups.items()]
    return [
        Heading(f"recipebench report: {results_set.name}", 1),
        Bullets(tuple(render.context_lines(results))),
        Heading(f"Which recipe? Against {ranked.reference}"),
        *_ranking_blocks(ranked),
        Heading("Each recipe's numbers"),
        _table(headers(columns, "text"), summary),
        *_figures([results_set], ranked.reference, ranked.metric.spec),
        Heading("Most confused pairs (actual -> predicted, count over seeds)"),
        *_confused(results),
    ]


def pair_report(base: charts.ResultSet, new: charts.ResultSet, reference: str | None, target_error: float | None,
                settings: compare.Settings, force: bool) -> list[Block]:
    comparison = compare.compare(compare.Side(base.name, base.results), compare.Side(new.name, new.results),
                                 settings, force=force)
    target = report.compare_target(comparison, reference, target_error)
    times = None if target is None else report.SideTimes.of_comparison(comparison, target)
    blocks: list[Block] = [
        Heading(f"recipebench report: {base.name} against {new.name}", 1),
        Heading("New against base"),
        _table(report.compare_headers(comparison, times), [report.compare_cells(comparison, r, times)
                                                            for r in comparison.rows]),
        Bullets(tuple(report.compare_legend(comparison, times))),
    ]
    ranked = [ranking.rank(s.results, reference, target=target, metric=settings.metric) for s in (base, new)]
    blocks.append(Heading(f"Which recipe? Against {ranked[0].reference}, on each side"))
    for side, r in zip((base, new), ranked):
        blocks += [Heading(_side_name(side), 3), *_ranking_blocks(r, legend=False)]
    blocks.append(Bullets(tuple(dict.fromkeys(report.ranking_legend(ranked[0]) + report.ranking_legend(ranked[1])))))
    blocks += _figures([base, new], ranked[0].reference, ranked[0].metric.spec)
    blocks.append(Heading("Most confused pairs (actual -> predicted, count over seeds)"))
    for side in (base, new):
        blocks += [Heading(_side_name(side), 3), *_confused(side.results)]
    return blocks


def _side_name(side: charts.ResultSet) -> str:
    return f"{side.tag}: {side.name}" if side.tag else side.name


def to_markdown(blocks: Sequence[Block]) -> str:
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {escape_markdown(b.text)}")
        elif isinstance(b, Para):
            out.append(escape_markdown(b.text))
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {escape_markdown(item)}" for item in b.items))
        elif isinstance(b, Table):
            out.append(format_table(b.headers, b.body, "markdown"))
        elif isinstance(b, Figure):
            out.append(f"![{escape_markdown(b.alt)}]({b.file})\n\n{escape_markdown(b.caption)}")
    return "\n\n".join(out) + "\n"


HTML_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1120px; margin: 2em auto;
       padding: 0 1em; color: #1f2328; line-height: 1.45; }
table { border-collapse: collapse; font-size: 13px; margin: 1em 0; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; white-space: nowrap; }
th { background: #f6f8fa; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 14px; color: #57606a; margin: 0.4em 0 1.5em; }
li { font-size: 14px; }
"""


def to_html(blocks: Sequence[Block], title: str) -> str:
    e = html.escape
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            out.append(f"<p>{e(b.text)}</p>")
        elif isinstance(b, Bullets):
            out.append("<ul>" + "".join(f"<li>{e(item)}</li>" for item in b.items) + "</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{e(h)}</th>" for h in b.headers)
            rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in b.body)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Figure):
            data = base64.b64encode(b.png).decode()
            out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{e(b.alt)}">'
                       f"<figcaption>{e(b.caption)}</figcaption></figure>")
    body = "\n".join(out)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{e(title)}</title>\n'
            f"<style>{HTML_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def write(blocks: Sequence[Block], out_dir: Path) -> list[Path]:
    """report.md, report.html and the PNGs into ``out_dir``; never over an earlier report's files."""
    out_dir = Path(out_dir)
    figures = [b for b in blocks if isinstance(b, Figure)]
    names = [*REPORT_FILES, *(f.file for f in figures)]
    taken = [n for n in names if (out_dir / n).exists()]
    if taken:
        raise ReportError(f"--out {out_dir}: already holds {', '.join(taken)}; choose a new folder (a report is "
                          "never overwritten)")
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"--out {out_dir}: exists and is not a folder")
    title = next((b.text for b in blocks if isinstance(b, Heading)), "recipebench report")
    written = [atomic_write(out_dir / f.file, f.png, overwrite=False) for f in figures]
    written.append(atomic_write(out_dir / "report.md", to_markdown(blocks), overwrite=False))
    written.append(atomic_write(out_dir / "report.html", to_html(blocks, title), overwrite=False))
    return written
