"""The matrix: recipes x the values of one recorded field (``--by torch``, ``fastai``, ``device``, ...).

Any field a result records can be the axis: the run's own fields (``device``, ``scale``,
``precision``...), then, by plain name, the keys of ``versions`` (``torch``, ``fastai``...),
``config`` (``arch``, ``batch_size``...), ``environment`` (``host``, ``cpu``...) and ``weights``
(``source``...); a dotted path (``versions.torch``) says exactly where to look. Everything else the
numbers depend on (workload, scale, device) must be the same in every column, unless forced.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from recipebench.analysis.compare import CompareError, check_no_repeats, check_uniform
from recipebench.record.results import RunResult
from recipebench.analysis.rows import Row, grouped

#: Where a plain field name is looked up after the run's own fields, in this order.
SECTIONS = ("versions", "config", "environment", "weights")
_SCALARS = (str, int, float, bool, type(None))


class FieldError(ValueError):
    """``--by`` names nothing the results record; the message lists what they do."""


def _section(result: RunResult, name: str) -> Mapping[str, Any]:
    value = getattr(result, name)
    if dataclasses.is_dataclass(value):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return value


def fields_of(result: RunResult) -> list[str]:
    """Every name ``--by`` accepts for ``result``."""
    own = [f.name for f in dataclasses.fields(result) if isinstance(getattr(result, f.name), _SCALARS)]
    nested = [k for s in SECTIONS for k, v in _section(result, s).items() if isinstance(v, _SCALARS)]
    return list(dict.fromkeys(own + nested))


def field_value(result: RunResult, by: str) -> str:
    """The value of field ``by`` in ``result``, as text (``"None"`` when recorded as null)."""
    head, dot, key = by.partition(".")
    if dot:
        if head not in SECTIONS or key not in _section(result, head):
            raise FieldError(f"--by {by!r}: not a recorded field (sections: {', '.join(SECTIONS)})")
        return str(_section(result, head)[key])
    if by in fields_of(result):
        if hasattr(result, by):
            return str(getattr(result, by))
        return str(next(_section(result, s)[by] for s in SECTIONS if by in _section(result, s)))
    raise FieldError(f"--by {by!r}: not a recorded field; choose one of {', '.join(fields_of(result))} "
                     f"(or a dotted path such as versions.torch)")


def natural_key(text: str) -> tuple:
    """Sort key that puts 2.9.1 before 2.14.1."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text) if t)


@dataclass(frozen=True)
class Matrix:
    """Rows (labels) x columns (values of ``by``): the rows of the runs in each cell."""

    by: str
    values: tuple[str, ...]  # column order: natural sort (versions in version order)
    cells: Mapping[str, Mapping[str, tuple[Row, ...]]]  # label -> value -> rows (missing: no runs)
    results: tuple[RunResult, ...]
    notes: tuple[str, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.cells)


def build(results: Sequence[RunResult], by: str, force: bool = False) -> Matrix:
    """The matrix of ``results`` by field ``by``; refuses mixed workloads/scales/devices, or a recipe x seed
    twice in one column, unless ``force``."""
    if not results:
        raise CompareError("no results")
    by_value: dict[str, list[RunResult]] = {}
    for result in results:
        by_value.setdefault(field_value(result, by), []).append(result)
    notes = check_uniform("the results", results, force, ignore=(by.rpartition(".")[2],))
    for value, group in by_value.items():
        notes += check_no_repeats(f"{by} {value}", group, force)
    values = tuple(sorted(by_value, key=natural_key))
    cells: dict[str, dict[str, tuple[Row, ...]]] = {}
    for value in values:
        for label, group in grouped(by_value[value]).items():
            cells.setdefault(label, {})[value] = tuple(group)
    frozen = MappingProxyType({label: MappingProxyType(row) for label, row in cells.items()})
    return Matrix(by, values, frozen, tuple(results), tuple(notes))
