"""The recipe stage: what a recipe function receives (:class:`recipebench.api.RecipeContext`).

A recipe is ``def my_recipe(ctx): ...`` making fastai calls on ``ctx.learn`` exactly as the chapter's
cells do. The harness has already built the Learner (data, split, seed, arch, weights, precision and
measurement are the same for every recipe) and times, measures and saves the run around the call.
"""
from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from recipebench.api import OptionValue, Scale
from recipebench.train.measure import RunLog, num, synchronize


@dataclass
class MeasuredSpan:
    """A named stretch of a recipe: its epochs and its wall time, optionally continuing ``after``."""

    name: str
    report: bool
    after: MeasuredSpan | None
    first_epoch: int = 0  # index into the run's epoch list
    last_epoch: int = 0  # one past the end
    own_wall_s: float = 0.0
    own_error_rates: tuple[float | None, ...] = ()  # error_rate of each of its own epochs, set at close
    final: Mapping[str, float | None] = field(default_factory=dict)  # set by evaluate_outcomes
    snapshot: Path | None = None  # the weights held when the span closed, saved for evaluate_outcomes
    started_s: float | None = None  # the run's elapsed time (RunLog.elapsed_s) when the span began

    def chain(self) -> list[MeasuredSpan]:
        """The spans this one continues (earliest first), then itself."""
        return (self.after.chain() if self.after else []) + [self]

    @property
    def wall_s(self) -> float:
        return self.own_wall_s + (self.after.wall_s if self.after else 0.0)

    @property
    def best_own_epoch(self) -> int:
        """How many of its own epochs this span had run when it reached its lowest error_rate
        (the earliest, among equals) -- e.g. the k to retrain for."""
        scored = [(e, i) for i, e in enumerate(self.own_error_rates) if e is not None]
        if not scored:
            raise ValueError(f"{self.name!r} has no epoch with an error_rate (is it closed, did it train?)")
        return min(scored)[1] + 1


class RunContext:
    """What ``Recipe.train`` receives: the harness's :class:`recipebench.api.RecipeContext`.

    Attributes:
        learn:   the Learner to train (built by the harness, measured while the recipe runs).
        scale:   the session's :class:`~recipebench.api.Scale`.
        options: the recipe's options (its defaults overridden by ``--recipe-option``).
    """

    def __init__(self, learn, scale: Scale, options: Mapping[str, OptionValue], log: RunLog,
                 new_learner: Callable[[], Any], snapshot_dir: Path,
                 dataloaders: Callable[[Scale], Any] | None = None) -> None:
        self.learn = learn
        self._dataloaders = dataloaders
        self._snapshot_dir = snapshot_dir
        self.scale = scale
        self.options = options
        self._log = log
        self._new_learner = new_learner
        self._spans: list[MeasuredSpan] = []

    def epochs(self, n: int) -> int:
        """The chapter's epoch count ``n`` at this scale: unchanged at quick and full, capped at smoke."""
        cap = self.scale.max_epochs_per_fit
        return n if cap is None else max(1, min(n, cap))

    def new_learner(self):
        """A fresh Learner under the same conditions (data, arch, pretrained weights, precision),
        for recipes that retrain from scratch. It becomes ``ctx.learn``; the harness lets go of the old one
        first (its model, gradients and optimiser state are freed before the new one is built, so the run's
        peak memory never holds both), as long as the recipe keeps no reference to it itself."""
        self.learn = None
        self.learn = self._new_learner()
        return self.learn

    def dataloaders(self, image_size: int | None = None, presize: int | None = None, batch_size: int | None = None):
        """DataLoaders over the same items and split at another image size, presize or batch size (None: the
        scale's), built as at the run's start, seed protocol included: ``ctx.learn.dls = ctx.dataloaders(...)``.
        Building them is the recipe's time (the chapter's ``get_dls`` is in its cell)."""
        if self._dataloaders is None:
            raise RuntimeError("ctx.dataloaders(): this context was made without DataLoaders to build")
        given = {k: v for k, v in (("image_size", image_size), ("presize", presize), ("batch_size", batch_size))
                 if v is not None}
        try:
            scale = dataclasses.replace(self.scale, **given)
        except ValueError as exc:  # Scale's own check, named by the call instead of the scale
            call = ", ".join(f"{k}={v!r}" for k, v in given.items())
            raise ValueError(f"ctx.dataloaders({call}): {str(exc).split(': ', 1)[-1]}") from None
        return self._dataloaders(scale)

    @contextlib.contextmanager
    def outcome(self, name: str, after: MeasuredSpan | None = None) -> Iterator[MeasuredSpan]:
        """Measure the enclosed training as a named sub-result of the run (a row of its own).

        ``after``: a span this outcome continues from (its epochs and time count towards this one),
        e.g. a shared frozen start. At exit the harness saves the weights then held; they are
        evaluated after the recipe, outside its timing (:func:`evaluate_outcomes`).
        """
        with self._span(name, report=True, after=after) as span:
            yield span

    @contextlib.contextmanager
    def stage(self, name: str, after: MeasuredSpan | None = None) -> Iterator[MeasuredSpan]:
        """Like :meth:`outcome`, but not reported as a row: a shared start that outcomes continue."""
        with self._span(name, report=False, after=after) as span:
            yield span

    @contextlib.contextmanager
    def _span(self, name: str, report: bool, after: MeasuredSpan | None) -> Iterator[MeasuredSpan]:
        if any(s.name == name for s in self._spans):
            raise ValueError(f"outcome/stage name {name!r} used twice in one recipe")
        span = MeasuredSpan(name, report, after, first_epoch=len(self._log.epochs), started_s=self._log.elapsed_s())
        self._spans.append(span)
        synchronize(self._log.device)
        t0 = time.perf_counter()
        outer, self._log.span = self._log.span, name
        try:
            yield span
        finally:
            self._log.span = outer
        synchronize(self._log.device)
        span.own_wall_s = time.perf_counter() - t0
        span.last_epoch = len(self._log.epochs)
        span.own_error_rates = tuple(e.error_rate for e in self._log.epochs[span.first_epoch:span.last_epoch])
        if report:
            import torch

            t1 = time.perf_counter()
            span.snapshot = Path(self._snapshot_dir) / f"outcome-{name}.pth"
            torch.save(self.learn.model.state_dict(), span.snapshot)
            self._log.overhead_s += time.perf_counter() - t1  # the harness's own work: not the recipe's time

    @property
    def spans(self) -> list[MeasuredSpan]:
        return list(self._spans)


def evaluate_outcomes(learn, spans: list[MeasuredSpan], device,
                      then: Callable[[Any, MeasuredSpan], None] | None = None) -> None:
    """Validate the weights each reported span saved at its end (``span.final``), with ``learn``'s data
    and callbacks; untimed, after the recipe. ``then(learn, span)``: called with each span's weights loaded
    (the registered evaluations of that outcome). ``learn`` keeps the weights of the last one."""
    import torch

    for span in spans:
        if span.report and span.snapshot is not None:
            learn.model.load_state_dict(torch.load(span.snapshot, map_location=device, weights_only=True))
            span.final = validated(learn)
            if then is not None:
                then(learn, span)
            span.snapshot.unlink(missing_ok=True)


def validated(learn) -> dict[str, float | None]:
    """``learn.validate()`` by name: ``valid_loss`` and each of the Learner's metrics."""
    names = ["valid_loss", *[m.name for m in learn.metrics]]
    return {name: num(value) for name, value in zip(names, learn.validate())}
