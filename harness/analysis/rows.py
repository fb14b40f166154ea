"""Results as table rows: one for each run, one for each of its outcomes (sub-results), and one for each
registered evaluation (``--evaluate tta``) of the run's final weights and of each outcome's.

What the tables, comparisons and the matrix all work on; nothing here formats anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping

from recipebench.analysis.metrics import best as best_of
from recipebench.record.results import STATUS_ERROR, STATUS_OK, EpochRecord, EvaluationResult, MetricSpec, RunResult

#: Between a recipe and its outcome in a row's label: ``early_stopping_contrast > keep_best``.
OUTCOME_SEP = " > "


@dataclass(frozen=True)
class Row:
    """One line of a table: a whole run, or one outcome of it."""

    label: str
    recipe: str
    outcome: str | None
    seed: int
    status: str
    error_rate: float | None
    best_error_rate: float | None
    best_epoch: int | None
    wall_s: float
    samples_per_s: float | None
    peak_memory_bytes: int | None
    precision: str
    device: str
    arch: str
    epochs: tuple[EpochRecord, ...] = ()  # the run's (or the outcome's) epochs, for time-to-target
    n_valid: int | None = None  # validation images: error_rate is a count over these (its resolution)
    #: An evaluation's row (``recipe > tta``): its own wall time, apart from ``wall_s`` (the training of the
    #: weights it evaluated). None on the rows of runs and outcomes.
    inference_s: float | None = None
    #: Each metric's final value (of the weights held at the end), by name; a metric not recorded is absent.
    metrics: Mapping[str, float | None] = field(default_factory=lambda: MappingProxyType({}))

    def value(self, name: str) -> float | None:
        """The final value of metric ``name``; None where the run did not record it."""
        return self.metrics.get(name)

    def epoch_values(self, name: str) -> list[float | None]:
        """Metric ``name`` at the end of each epoch, in order."""
        return [e.metrics.get(name) for e in self.epochs]

    def best(self, spec: MetricSpec) -> tuple[float | None, int | None]:
        """The best epoch value of the metric and its 1-based epoch (the earliest among equals)."""
        return best_of(self.epoch_values(spec.name), spec)


def rows(result: RunResult) -> list[Row]:
    """The run's own row and its evaluations' rows, then each outcome's row and its evaluations' rows."""
    common = dict(recipe=result.recipe, seed=result.seed, status=result.status, precision=result.precision,
                  device=result.device, arch=result.config.arch, n_valid=result.n_valid)
    run = Row(label=result.recipe, outcome=None, error_rate=result.error_rate,
              best_error_rate=result.best_error_rate, best_epoch=result.best_epoch,
              wall_s=result.wall_s, samples_per_s=result.samples_per_s,
              peak_memory_bytes=result.peak_memory_bytes, epochs=result.epochs,
              metrics=MappingProxyType(dict(result.final_metrics)), **common)
    out = [run, *_evaluation_rows(result, run)]
    for o in result.outcomes:
        row = Row(label=f"{result.recipe}{OUTCOME_SEP}{o.name}", outcome=o.name, error_rate=o.error_rate,
                  best_error_rate=o.best_error_rate, best_epoch=o.best_epoch,
                  wall_s=o.wall_s, samples_per_s=o.samples_per_s, peak_memory_bytes=None, epochs=o.epochs,
                  metrics=MappingProxyType(dict(o.final_metrics)), **common)
        out += [row, *_evaluation_rows(result, row)]
    return out


def _evaluation_rows(result: RunResult, of: Row) -> list[Row]:
    """A row per evaluation of ``of``'s weights: its error rate and inference time; the training time of the
    weights it evaluated as its ``wall_s`` (it trained nothing: no epochs, no throughput, no memory)."""
    mine: list[EvaluationResult] = [e for e in result.evaluations if e.outcome == of.outcome]
    return [Row(label=f"{of.label}{OUTCOME_SEP}{e.name}",
                outcome=e.name if of.outcome is None else f"{of.outcome}{OUTCOME_SEP}{e.name}",
                seed=result.seed, status=result.status if not result.ok else STATUS_ERROR if e.error else STATUS_OK,
                error_rate=e.error_rate, best_error_rate=None, best_epoch=None, wall_s=of.wall_s,
                samples_per_s=None, peak_memory_bytes=None, precision=of.precision, device=of.device, arch=of.arch,
                n_valid=of.n_valid, inference_s=e.inference_s, recipe=result.recipe,
                metrics=MappingProxyType({} if e.error_rate is None else {"error_rate": e.error_rate}))
            for e in mine]


def grouped(results: Iterable[RunResult]) -> dict[str, list[Row]]:
    """Rows of all results grouped by label (recipe or recipe > outcome), in first-seen order."""
    groups: dict[str, list[Row]] = {}
    for result in results:
        for row in rows(result):
            groups.setdefault(row.label, []).append(row)
    return groups
