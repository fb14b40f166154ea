"""A recipe's plan without training it: run it against a stand-in Learner that only counts.

The live progress needs each case's epoch count before it trains (a suite's plan, its time estimate);
the recipes are plain functions of a Learner, so running one against :class:`DryRunLearner` -- which
records every training call and adds the epochs a real fit would, with an error curve that falls --
gives the count in milliseconds. A recipe that does something the stand-in cannot answer has no
plan (``None``): its progress shows epochs as they come, without a total.
"""
from __future__ import annotations

import collections
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Mapping, Sequence

from recipebench.api import Recipe, Scale
from recipebench.train.context import RunContext
from recipebench.train.measure import RunLog
from recipebench.record.results import EpochRecord

#: The error rate a stand-in epoch reports, by its index in its fit: falling, so that a recipe that
#: picks its best epoch (early stopping's retrain_k) picks the last one -- the longest plan.
FALLING = tuple(1.0 / (i + 2) for i in range(1000))
#: The suggestion a stand-in lr_find returns for each suggest function.
SUGGESTED_LR = 1e-3


class DryRunLearner:
    """Stands in for a fastai Learner: records calls; training calls add epochs to the run log.

    ``curve``: the error_rate of each epoch added, by its index in its fit (cycled)."""

    def __init__(self, log: RunLog, curve: Sequence[float] = FALLING, suggested: Mapping[str, float] | None = None):
        import torch

        self.calls: list[tuple[str, tuple, dict]] = []
        self.log, self.curve, self.suggested = log, curve, dict(suggested or {})
        self.metrics = [SimpleNamespace(name="error_rate")]
        self.model = torch.nn.Identity()  # what the harness saves at the end of an outcome

    def _epochs(self, n: int) -> None:
        for i in range(int(n)):
            self.log.epochs.append(EpochRecord(len(self.log.epochs) + 1, "unfrozen", 1, 1.0, 1.0,
                                               self.curve[i % len(self.curve)], 1.0, 1.0, 64))

    def _record(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "dls":  # ``learn.dls = ctx.dataloaders(...)``: recorded as ("dls", (DryRunDataLoaders,), {})
            self._record("dls", value)
        object.__setattr__(self, name, value)

    def fine_tune(self, epochs, *args, **kwargs):
        self._record("fine_tune", epochs, *args, **kwargs)
        self._epochs(kwargs.get("freeze_epochs", 1) + epochs)

    def fit_one_cycle(self, n_epoch, *args, **kwargs):
        self._record("fit_one_cycle", n_epoch, *args, **kwargs)
        self._epochs(n_epoch)

    def fit(self, n_epoch, *args, **kwargs):
        self._record("fit", n_epoch, *args, **kwargs)
        self._epochs(n_epoch)

    def fit_flat_cos(self, n_epoch, *args, **kwargs):
        self._record("fit_flat_cos", n_epoch, *args, **kwargs)
        self._epochs(n_epoch)

    def fit_sgdr(self, n_cycles, cycle_len, lr_max=None, cycle_mult=2, *args, **kwargs):
        self._record("fit_sgdr", n_cycles, cycle_len, lr_max, cycle_mult, *args, **kwargs)
        self._epochs(cycle_len * sum(cycle_mult ** i for i in range(n_cycles)))

    def lr_find(self, *args, **kwargs):
        self._record("lr_find", *args, **kwargs)
        funcs = kwargs.get("suggest_funcs", (SimpleNamespace(__name__="valley"),))
        names = [f.__name__ for f in funcs]
        return collections.namedtuple("SuggestedLRs", names)(*(self.suggested.get(n, SUGGESTED_LR) for n in names))

    def validate(self):
        return [1.0, self.log.epochs[-1].error_rate if self.log.epochs else self.curve[0]]

    def __getattr__(self, name):  # unfreeze, freeze, save, load, to_fp16, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._record(name, *args, **kwargs)


@dataclass(frozen=True)
class DryRunDataLoaders:
    """Stands in for the DataLoaders ``ctx.dataloaders(...)`` builds: the sizes they were asked at."""

    image_size: int  # px
    presize: int  # px
    batch_size: int

    @classmethod
    def at(cls, scale: Scale) -> DryRunDataLoaders:
        return cls(image_size=scale.image_size, presize=scale.presize, batch_size=scale.batch_size)


@dataclass(frozen=True)
class Plan:
    """What a recipe will train at a scale."""

    epochs: int
    lr_finds: int


def dry_run(recipe: Recipe, scale: Scale, options: Mapping[str, Any]) -> tuple[RunLog, DryRunLearner]:
    """Run ``recipe`` against a :class:`DryRunLearner` at ``scale``: the log of epochs and the calls."""
    log = RunLog("cpu")
    learn = DryRunLearner(log)
    with tempfile.TemporaryDirectory(prefix="recipebench-dryrun-") as snapshots:
        ctx = RunContext(learn, scale, options, log, new_learner=lambda: learn, snapshot_dir=Path(snapshots),
                         dataloaders=DryRunDataLoaders.at)
        recipe.train(ctx)
    return log, learn


def plan(recipe: Recipe, scale: Scale, options: Mapping[str, Any]) -> Plan | None:
    """The epochs and lr_finds ``recipe`` will train at ``scale``; None when the dry run cannot tell."""
    try:
        log, learn = dry_run(recipe, scale, options)
    except Exception:  # noqa: BLE001 - the recipe wanted more of a Learner than the stand-in has
        return None
    return Plan(epochs=len(log.epochs), lr_finds=sum(1 for name, *_ in learn.calls if name == "lr_find"))
