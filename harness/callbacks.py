"""The fastai callbacks the harness adds to every Learner it builds.

* :class:`EpochMeter`   -- after every training epoch an :class:`~recipebench.results.EpochRecord`:
  losses and error_rate (from the Recorder), phase (frozen / unfrozen), wall time and throughput.
* :class:`DtypeProbe`   -- the dtype of the model's raw output in each fit, so the precision a result
  states is the one that really ran.
* :class:`BF16Autocast` -- bfloat16 autocast on the CPU, where fastai's ``to_fp16()`` cannot go.

This module imports fastai; the harness imports it only when it builds a Learner.
"""
from __future__ import annotations

import time

import torch
from fastai.callback.core import Callback
from fastai.callback.schedule import LRFinder
from fastai.learner import Recorder
from fastai.torch_core import find_bs, to_float

from recipebench.measure import RunLog, num, synchronize
from recipebench.results import EpochRecord


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
        ))


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


def harness_callbacks(log: RunLog) -> list[Callback]:
    """The callbacks that fill ``log`` during every fit of a run."""
    return [EpochMeter(log), DtypeProbe(log)]
