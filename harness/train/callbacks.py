"""The fastai callbacks the harness adds to every Learner it builds.

* :class:`EpochMeter`   -- after every training epoch an :class:`~recipebench.record.results.EpochRecord`:
  losses and error_rate (from the Recorder), phase (frozen / unfrozen), wall time, throughput, the
  time since the recipe started, every batch's raw training loss (compacted), and the image and batch
  size it trained at (the Learner's DataLoaders of the moment: ``learn.dls = ctx.dataloaders(...)``).
* :class:`DtypeProbe`   -- the dtype of the model's raw output in each fit, so the precision a result
  states is the one that really ran.
* :class:`DivergenceGuard` -- stops a run whose training loss is not finite or explodes
  (:data:`DIVERGENCE_FACTOR`), raising :class:`TrainingDiverged`.
* :class:`BF16Autocast` -- bfloat16 autocast on the CPU, where fastai's ``to_fp16()`` cannot go.
* :class:`SkipValidation` -- no validation pass after each epoch (pretraining validates once, at its end).
* :class:`NamedMetric`  -- a registered metric as the Learner measures it, under its registered name.

This module imports fastai; the harness imports it only when it builds a Learner.
"""
from __future__ import annotations

import math
import time

import torch
from fastai.callback.core import Callback, CancelValidException
from fastai.callback.schedule import LRFinder
from fastai.learner import Metric as FastaiMetric
from fastai.learner import Recorder
from fastai.metrics import AvgMetric
from fastai.torch_core import find_bs, to_float

from recipebench.train.measure import RunLog, num, synchronize
from recipebench.record.results import Divergence, EpochRecord, compact_losses

#: "Exploding": a training batch loss above this many times the cross-entropy of guessing uniformly
#: among the classes (ln C: 1.8 for 6 classes, 3.6 for 37). No run that is still learning gets there.
DIVERGENCE_FACTOR = 100.0


def phase(learn) -> str:
    """"frozen" while the optimiser trains only the last parameter groups, else "unfrozen"."""
    opt = getattr(learn, "opt", None)
    return "frozen" if opt is not None and getattr(opt, "frozen_idx", 0) > 0 else "unfrozen"


def in_lr_find(learn) -> bool:
    return any(isinstance(cb, LRFinder) for cb in learn.cbs)


class EpochMeter(Callback):
    """Record each training epoch's losses, error_rate, phase, time and throughput into ``log``.

    Skips lr_find's mock training, and the fit-like events of validate()/get_preds(), which run no
    training phase."""

    order = Recorder.order + 1  # after the Recorder has stored the epoch's values
    run_valid = True

    def __init__(self, log: RunLog) -> None:
        self.log = log

    def before_fit(self):
        self.skip = in_lr_find(self.learn)
        self.counted = False

    def before_epoch(self):
        synchronize(self.log.device)
        self.t_epoch, self.train_s, self.samples, self.trained = time.perf_counter(), 0.0, 0, False
        self.image_size = None  # px, read off the epoch's first training batch (ctx.dataloaders may change it)
        self.losses = []  # detached loss tensors: read once at the epoch's end, not once per batch

    def before_train(self):
        if self.skip:
            return
        if not self.counted:
            self.log.fits += 1
            self.counted = True
        self.trained = True
        self.t_train = time.perf_counter()

    def after_batch(self):
        if self.trained and self.training:
            self.samples += find_bs(self.yb)
            if self.image_size is None and getattr(self.x, "ndim", 0) >= 3:
                self.image_size = int(self.x.shape[-1])
            self.losses.append(self.learn.loss.detach().float().reshape(()))

    def after_train(self):
        if self.trained:
            synchronize(self.log.device)
            self.train_s = time.perf_counter() - self.t_train

    def after_epoch(self):
        if self.skip or not self.trained:
            return
        synchronize(self.log.device)
        names = list(self.recorder.metric_names[1:])  # drop "epoch"
        values = dict(zip(names, self.recorder.values[-1])) if self.recorder.values else {}
        self.log.epochs.append(EpochRecord(
            epoch=len(self.log.epochs) + 1,
            phase=phase(self.learn),
            fit=self.log.fits,
            train_loss=num(values.get("train_loss")),
            valid_loss=num(values.get("valid_loss")),
            error_rate=num(values.get("error_rate")),
            wall_s=time.perf_counter() - self.t_epoch,
            train_s=self.train_s,
            train_samples=int(self.samples),
            elapsed_s=self.log.elapsed_s(),
            batch_losses=compact_losses(torch.stack(self.losses).cpu().tolist() if self.losses else ()),
            image_size=self.image_size,
            batch_size=int(self.dls.train.bs),
            metrics={name: num(values.get(name)) for name in self.log.metric_names},
        ))
        self.log.notify("epoch", self.log.epochs[-1], k=self.learn.epoch + 1, n=self.learn.n_epoch, span=self.log.span)


class DtypeProbe(Callback):
    """Note the dtype of the model's output before any mixed-precision callback casts it back."""

    order = 1  # before MixedPrecision's after_pred (order 10) turns the output into float32

    def __init__(self, log: RunLog) -> None:
        self.log = log

    def before_fit(self):
        self.seen = in_lr_find(self.learn)

    def after_pred(self):
        if self.training and not self.seen:
            self.log.pred_dtypes.append(str(self.pred.dtype).replace("torch.", ""))
            self.seen = True


class TrainingDiverged(Exception):
    """Raised out of the recipe when its training diverged; the run is recorded as "diverged"."""

    def __init__(self, divergence: Divergence) -> None:
        super().__init__(f"training diverged at epoch {divergence.epoch}, batch {divergence.batch}: "
                         f"{divergence.reason}")
        self.divergence = divergence


def explosion_limit(n_classes: int) -> float:
    """The training loss above which a run counts as exploded: :data:`DIVERGENCE_FACTOR` x ln(classes)."""
    return DIVERGENCE_FACTOR * math.log(max(n_classes, 2))


class DivergenceGuard(Callback):
    """Stop the run, before the optimiser steps, at the first training batch whose loss is not finite
    or above :func:`explosion_limit`; or after an epoch whose validation loss is not finite.
    lr_find's mock training (which explodes on purpose) is left alone."""

    order = 90  # after every other callback's after_loss (autocast exited) and after the Recorder

    def __init__(self, log: RunLog) -> None:
        self.log = log

    def before_fit(self):
        self.skip = in_lr_find(self.learn)

    def after_loss(self):
        if self.skip or not self.training:
            return
        loss = float(self.loss.detach().float().mean())
        limit = explosion_limit(self.dls.c)
        if not math.isfinite(loss):
            reason = f"training loss {loss}"
        elif loss > limit:
            reason = (f"training loss {loss:.3g} > {DIVERGENCE_FACTOR:g} x ln({self.dls.c} classes) = {limit:.3g}")
        else:
            return
        self._stop(Divergence(epoch=len(self.log.epochs) + 1, batch=self.iter + 1,
                              loss=loss if math.isfinite(loss) else None, reason=reason))

    def after_epoch(self):
        if self.skip or not self.recorder.values:
            return
        values = dict(zip(self.recorder.metric_names[1:], self.recorder.values[-1]))
        valid_loss = values.get("valid_loss")
        if valid_loss is not None and not math.isfinite(float(valid_loss)):
            self._stop(Divergence(epoch=len(self.log.epochs), batch=max(1, self.n_iter),
                                  loss=None, reason=f"validation loss {float(valid_loss)}"))

    def _stop(self, divergence: Divergence) -> None:
        raise TrainingDiverged(divergence)


class BF16Autocast(Callback):
    """bfloat16 autocast on the CPU for the forward pass and loss; the output is cast back to float32
    before the loss, as fastai's MixedPrecision does (no gradient scaler: bf16 has float32's range)."""

    order = 10  # where fastai's MixedPrecision sits

    def before_batch(self):
        self.autocast = torch.autocast("cpu", dtype=torch.bfloat16)
        self.autocast.__enter__()

    def after_pred(self):
        self.learn.pred = to_float(self.pred)

    def after_loss(self):
        self._exit()

    def after_cancel_batch(self):
        self._exit()

    def _exit(self):
        if getattr(self, "autocast", None) is not None:
            self.autocast.__exit__(None, None, None)
            self.autocast = None


class SkipValidation(Callback):
    """Skip the validation pass that ends every epoch: for a fit whose per-epoch scores nobody reads."""

    def before_validate(self):
        raise CancelValidException()


class BatchProgress(Callback):
    """Tell ``progress(done, total, what)`` after every training batch of a fit (set-up work such as
    pretraining a body, where nobody else reports until the fit ends)."""

    order = 90

    def __init__(self, progress) -> None:
        self.progress = progress

    def after_batch(self):
        if not self.training:
            return
        n_iter = self.n_iter or 1
        done = self.epoch * n_iter + self.iter + 1
        self.progress(done, self.n_epoch * n_iter, f"epoch {self.epoch + 1}/{self.n_epoch} · batches")


def harness_callbacks(log: RunLog) -> list[Callback]:
    """The callbacks that fill ``log`` during every fit of a run."""
    return [EpochMeter(log), DtypeProbe(log), DivergenceGuard(log)]


class NamedMetric(FastaiMetric):
    """A registered metric (:class:`recipebench.api.Metric`) as fastai measures it, named as registered (the
    Recorder's column): a function is averaged over the validation batches as fastai's ``AvgMetric`` does
    for ``metrics=error_rate``; a factory's fastai Metric object is made fresh for each Learner."""

    def __init__(self, metric) -> None:
        self._name = metric.name
        self.inner = metric.compute() if metric.is_factory else AvgMetric(metric.compute)

    def reset(self):
        self.inner.reset()

    def accumulate(self, learn):
        self.inner.accumulate(learn)

    @property
    def value(self):
        return self.inner.value

    @property
    def name(self):
        return self._name
