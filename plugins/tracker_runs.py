"""What the tracker outputs (MLflow, TensorBoard) share: each result's rows as tracked runs, their figures,
params and tags. Not a plugin itself (it registers nothing); ``mlflow_export`` and ``tensorboard_export`` use it.

A tracked run is one row of the session table for one seed: the whole run (``baseline``), or one of its
sub-results (``early_stopping_contrast > keep_best``), with the figures the table shows. Every number a
row or an epoch holds is exported, by its field name, so a figure added to the results is exported too.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from recipebench import rows

#: Row fields that say which run it is, not how it did: never exported as figures.
NOT_FIGURES = ("seed", "n_valid")
#: Epoch fields that are its coordinates, not figures (the step is the epoch).
NOT_EPOCH_FIGURES = ("epoch", "fit")


@dataclass(frozen=True)
class TrackedRun:
    """One row of one seed, with the result it comes from."""

    result: Any  # RunResult
    row: Any  # recipebench.analysis.rows.Row: label, outcome, figures, epochs

    @property
    def key(self) -> str:
        """Unique per row of a result document: its ``run_id``, and the sub-result's name."""
        return self.result.run_id + (f"/{self.row.outcome}" if self.row.outcome else "")

    @property
    def group(self) -> str:
        """The runs a parent holds: one row label in one session."""
        return f"{self.result.session_id}/{self.row.label}"

    @property
    def start_s(self) -> float:
        """When the run began, in seconds since the epoch: the document's time less the run's wall time."""
        return created_s(self.result) - self.result.wall_s


def created_s(result: Any) -> float:
    """The result document's ``created_utc`` in seconds since the epoch."""
    return datetime.fromisoformat(result.created_utc.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


def tracked_runs(results) -> Iterator[TrackedRun]:
    for result in results:
        for row in rows(result):
            yield TrackedRun(result, row)


def numbers(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, float]:
    """Every finite number among ``obj``'s fields (and inside its mappings of numbers, as ``field.key``)."""
    out: dict[str, float] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name in skip:
            continue
        if isinstance(value, Mapping):
            out.update({f"{f.name}.{k}": float(v) for k, v in value.items() if _number(v)})
        elif _number(value):
            out[f.name] = float(value)
    return out


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def figures(run: TrackedRun) -> dict[str, float]:
    """The row's final figures: error_rate, best_error_rate, best_epoch, wall_s, samples_per_s, peak_memory_bytes."""
    return numbers(run.row, NOT_FIGURES)


def epoch_figures(epoch: Any) -> dict[str, float]:
    """An epoch's figures: losses, error_rate, wall_s, train_s, elapsed_s (the epoch clock), image and batch size."""
    return numbers(epoch, NOT_EPOCH_FIGURES)


def params(result: Any) -> dict[str, str]:
    """What the run was set to do: its config, recipe options (``option.KEY``) and what trained."""
    config = {k: v for k, v in dataclasses.asdict(result.config).items() if v is not None}
    out = {f"config.{k}": ",".join(v) if isinstance(v, (list, tuple)) else v for k, v in config.items()}
    out.update({f"option.{k}": v for k, v in result.recipe_options.items()})
    out.update(recipe=result.recipe, seed=result.seed, workload=result.workload, scale=result.scale,
               precision=result.precision, precision_requested=result.precision_requested,
               weights=result.weights.source, n_classes=result.n_classes, n_train=result.n_train,
               n_valid=result.n_valid)
    return {k: str(v) for k, v in out.items()}


def tags(result: Any) -> dict[str, str]:
    """Where and with what it ran: versions, device, commit, host, session, status."""
    env = result.environment
    out = {f"version.{k}": v for k, v in result.versions.items() if v is not None}
    out.update({"device": result.device, "device_name": result.device_name, "session_id": result.session_id,
                "status": result.status, "recipe_plugin": result.recipe_plugin, "host": env.get("host"),
                "git_commit": env.get("git_commit"), "git_dirty": env.get("git_dirty")})
    return {k: str(v) for k, v in out.items() if v is not None}
