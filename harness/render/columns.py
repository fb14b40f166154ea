"""One column model for every table: a column is defined once -- its header, its text cell and its raw csv
values -- and renders as text, markdown and csv (:func:`table`), so a column is added in one place.

The session table, the ranking and the compare table are lists of :class:`Column`; the metric columns among
them come from the metrics the results recorded (:mod:`recipebench.analysis.metrics`), one each.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Sequence, TypeVar

from recipebench.render.tables import format_table

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Column(Generic[T]):
    """A column of a table of items ``T``: ``header`` and ``text(item)`` in text and markdown (no header:
    csv only), and ``raw``, the csv columns it gives: (name, value of an item) pairs (none: text only)."""

    header: str | None
    text: Callable[[T], str] | None = None
    raw: tuple[tuple[str, Callable[[T], Any]], ...] = ()

    def on(self, get: Callable[[U], T]) -> Column[U]:
        """The same column of items ``U`` that hold a ``T`` (``get`` reads it)."""
        text = self.text
        return Column(self.header, None if text is None else (lambda item: text(get(item))),
                      tuple((name, _composed(value, get)) for name, value in self.raw))


def _composed(value: Callable[[T], Any], get: Callable[[U], T]) -> Callable[[U], Any]:
    return lambda item: value(get(item))


def headers(columns: Sequence[Column], fmt: str) -> list[str]:
    """The headers of ``columns`` in ``fmt``: each csv name in csv, else each shown header."""
    if fmt == "csv":
        return [name for c in columns for name, _ in c.raw]
    return [c.header for c in columns if c.header is not None]


def cells(columns: Sequence[Column[T]], item: T, fmt: str) -> list[Any]:
    """One row of ``item``: raw values in csv, else the text cells."""
    if fmt == "csv":
        return [value(item) for c in columns for _, value in c.raw]
    return [c.text(item) for c in columns if c.header is not None and c.text is not None]


def table(columns: Sequence[Column[T]], items: Sequence[T], fmt: str) -> str:
    """The table of ``items`` in ``fmt`` (markdown, text or csv)."""
    return format_table(headers(columns, fmt), [cells(columns, item, fmt) for item in items], fmt)
