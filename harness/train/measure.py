"""The measure stage: what the harness records while a recipe trains, identically for every recipe.

* :class:`RunLog`      -- what one run recorded; filled by the fastai callbacks of
  :mod:`recipebench.train.callbacks` (per-epoch losses, error_rate, phase, time, throughput) and by:
* :class:`CallLog`     -- wraps the Learner's training methods to record the calls a recipe makes and
  every ``lr_find`` (its suggestions and curve).
* :class:`Stopwatch`   -- wall time, synchronising CUDA at both ends.
* :class:`PeakMemory`  -- CUDA max allocated / reserved after a reset, or the process's peak RSS
  reset at the start of the recipe (so it is never inherited from the run before).
"""
from __future__ import annotations

import ctypes
import functools
import gc
import inspect
import math
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from recipebench.record.environment import is_cuda, mixed_dtype
from recipebench.record.results import CallRecord, EpochRecord, LrFindRecord

#: Learner methods whose top-level calls are recorded.
TRAINING_METHODS = (
    "fine_tune", "fit_one_cycle", "fit_flat_cos", "fit_sgdr", "fit", "lr_find", "freeze", "unfreeze", "freeze_to",
    "save", "load",
)


def synchronize(device) -> None:
    """Wait for queued CUDA work, so a clock read means the work is done."""
    if is_cuda(device):
        import torch

        torch.cuda.synchronize(device)


def jsonable(value: Any) -> Any:
    """A JSON-safe rendering of a training call's argument."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, slice):
        return {"slice": [jsonable(value.start), jsonable(value.stop), jsonable(value.step)]}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalar
        return jsonable(value.item())
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, functools.partial):
        return f"partial({getattr(value.func, '__name__', repr(value.func))})"
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    return type(value).__name__


@dataclass
class RunLog:
    """What one run recorded; filled by the callbacks and wrappers below."""

    device: Any
    epochs: list[EpochRecord] = field(default_factory=list)
    lr_finds: list[LrFindRecord] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    fits: int = 0
    pred_dtypes: list[str] = field(default_factory=list)  # dtype of the model output, per fit
    overhead_s: float = 0.0  # harness work inside the recipe's timer (saving outcome weights), subtracted
    started_at: float | None = None  # time.perf_counter() when the recipe started
    #: Told of each epoch and lr_find as it ends (live progress); None: nobody is watching.
    observer: RunObserver | None = None
    span: str | None = None  # the outcome or stage now training, if any
    #: The metrics each epoch records (every registered one), by name, as the Recorder's columns.
    metric_names: tuple[str, ...] = ()

    def elapsed_s(self) -> float | None:
        """Seconds since the recipe started, less the harness's own work in it; None before it started."""
        return None if self.started_at is None else time.perf_counter() - self.started_at - self.overhead_s

    def notify(self, event: str, *args: Any, **kwargs: Any) -> None:
        """Tell the observer; one that fails is dropped with a warning: watching must never stop a run."""
        if self.observer is None:
            return
        try:
            getattr(self.observer, event)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a display bug is not the recipe's failure
            warnings.warn(f"progress display failed and is off for this run: {type(exc).__name__}: {exc}",
                          RuntimeWarning, stacklevel=2)
            self.observer = None


class RunObserver(Protocol):
    """Who watches a run as it trains (the suite's live progress)."""

    def epoch(self, record: EpochRecord, k: int, n: int, span: str | None) -> None:
        """An epoch ended: the ``k``-th of the ``n`` of its fit, inside outcome/stage ``span``."""

    def lr_find(self, record: LrFindRecord) -> None:
        """An lr_find ended."""


def num(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


class CallLog:
    """Record the top-level training calls a recipe makes on a Learner, and every lr_find."""

    def __init__(self, log: RunLog, lr_find_num_it: int | None = None) -> None:
        self.log, self.lr_find_num_it, self.depth = log, lr_find_num_it, 0

    def attach(self, learn) -> None:
        for name in TRAINING_METHODS:
            original = getattr(type(learn), name, None)
            if original is not None:
                setattr(learn, name, self._wrap(learn, name, original))

    def _wrap(self, learn, name: str, original: Callable) -> Callable:
        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            if name == "lr_find" and self.lr_find_num_it is not None and _argument(original, learn, args, kwargs,
                                                                                   "num_it") is _UNSET:
                kwargs["num_it"] = self.lr_find_num_it  # the scale's, where the recipe gave none (by name or place)
            top = self.depth == 0
            if top:
                self.log.calls.append(CallRecord(name, tuple(jsonable(a) for a in args),
                                                 {k: jsonable(v) for k, v in kwargs.items()}))
            self.depth += 1
            t0 = time.perf_counter()
            try:
                result = original(learn, *args, **kwargs)
            finally:
                self.depth -= 1
            if name == "lr_find":
                num_it = _argument(original, learn, args, kwargs, "num_it", defaults=True)
                self._record_lr_find(learn, result, 100 if num_it is _UNSET else num_it, time.perf_counter() - t0)
                self.log.notify("lr_find", self.log.lr_finds[-1])
            return result

        return wrapper

    def _record_lr_find(self, learn, suggested, num_it: int, wall_s: float) -> None:
        import matplotlib.pyplot as plt

        plt.close("all")  # lr_find plots by default; keep figures from piling up
        rec = learn.recorder
        suggestions = {k: float(v) for k, v in suggested._asdict().items()} if hasattr(suggested, "_asdict") else {}
        curve = [(float(lr), float(loss)) for lr, loss in zip(rec.lrs, rec.losses) if math.isfinite(float(loss))]
        self.log.lr_finds.append(LrFindRecord(
            suggestions=suggestions,
            num_it=int(num_it),
            lrs=tuple(lr for lr, _ in curve),
            losses=tuple(loss for _, loss in curve),
            wall_s=wall_s,
        ))


_UNSET = object()


def _argument(method: Callable, learn, args: tuple, kwargs: dict, name: str, defaults: bool = False) -> Any:
    """The value ``method(learn, *args, **kwargs)`` binds to parameter ``name``, given by name or by position
    (or its default, with ``defaults``); ``_UNSET`` when not given, or when the call does not bind (the
    method itself then raises its own error)."""
    try:
        bound = inspect.signature(method).bind(learn, *args, **kwargs)
    except (TypeError, ValueError):
        return _UNSET
    if defaults:
        bound.apply_defaults()
    return bound.arguments.get(name, _UNSET)


class Stopwatch:
    """Wall time of a block, CUDA-synchronised at both ends."""

    def __init__(self, device) -> None:
        self.device, self.elapsed_s = device, 0.0

    def __enter__(self) -> Stopwatch:
        synchronize(self.device)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        synchronize(self.device)
        self.elapsed_s = time.perf_counter() - self._t0


def _read_status_kib(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def release_freed_memory(device=None) -> None:
    """Collect garbage and hand freed heap back to the OS (glibc keeps it resident otherwise), and on a
    CUDA ``device`` the blocks torch's caching allocator kept, so the memory a recipe (or its fresh
    Learner) starts from holds no leftovers of what came before."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass
    if device is not None and is_cuda(device):
        import torch

        torch.cuda.empty_cache()


def _reset_rss_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _read_status_kib("VmHWM") is not None
    except OSError:
        return False


class _RssSampler(threading.Thread):
    """Fallback where VmHWM cannot be reset: sample RSS every ``interval_s``."""

    def __init__(self, interval_s: float = 0.01) -> None:
        import psutil  # optional; only needed where /proc/self/clear_refs is unavailable

        super().__init__(daemon=True)
        self.interval_s, self.peak_bytes, self._stop_event = interval_s, 0, threading.Event()
        self._process = psutil.Process()

    def run(self) -> None:
        proc = self._process
        while not self._stop_event.is_set():
            self.peak_bytes = max(self.peak_bytes, proc.memory_info().rss)
            self._stop_event.wait(self.interval_s)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak_bytes


class PeakMemory:
    """Peak memory of a block. On CUDA: max allocated and reserved after collecting garbage, emptying
    the cache and resetting the peaks. Always: the main process's peak RSS during the block, reset at
    entry (Linux VmHWM), else sampled (psutil), else the process's peak since it started -- ``method``
    says which; DataLoader worker processes are not counted in it."""

    def __init__(self, device) -> None:
        self.device = device
        self.peak_rss_bytes: int | None = None
        self.cuda_max_allocated_bytes: int | None = None
        self.cuda_max_reserved_bytes: int | None = None
        self.rss_at_start_bytes: int | None = None
        self.method = ""

    @property
    def is_cuda(self) -> bool:
        return is_cuda(self.device)

    @property
    def peak_bytes(self) -> int | None:
        return self.cuda_max_allocated_bytes if self.is_cuda else self.peak_rss_bytes

    def __enter__(self) -> PeakMemory:
        if self.is_cuda:
            import torch

            gc.collect()  # the runs before: their tensors freed...
            torch.cuda.empty_cache()  # ...and the blocks the caching allocator kept for them handed back
            synchronize(self.device)  # nothing of theirs still queued
            torch.cuda.reset_peak_memory_stats(self.device)  # only then: the peaks start from this run
        self.rss_at_start_bytes = (_read_status_kib("VmRSS") or 0) * 1024 or None
        self._sampler = None
        self._rss_reset = _reset_rss_peak()
        if not self._rss_reset:
            try:
                self._sampler = _RssSampler()
                self._sampler.start()
            except ImportError:  # no psutil: VmHWM, if readable, is the process's peak since it started
                self._sampler = None
        return self

    def __exit__(self, *exc) -> None:
        if self._sampler is not None:
            self.peak_rss_bytes = self._sampler.stop()
            rss_method = "process RSS sampled every 10 ms"
        else:
            kib = _read_status_kib("VmHWM")
            self.peak_rss_bytes = kib * 1024 if kib is not None else None
            rss_method = ("unavailable" if kib is None else "process peak RSS (VmHWM, reset at start)" if self._rss_reset
                          else "process peak RSS since the process started (VmHWM: not reset, /proc/self/clear_refs "
                               "refused, and no psutil to sample with: may be an earlier run's peak)")
        if self.is_cuda:
            import torch

            synchronize(self.device)
            self.cuda_max_allocated_bytes = int(torch.cuda.max_memory_allocated(self.device))
            self.cuda_max_reserved_bytes = int(torch.cuda.max_memory_reserved(self.device))
            self.method = "torch.cuda.max_memory_allocated (after reset_peak_memory_stats)"
        else:
            self.method = rss_method


def warm_up(device, models: Iterable[tuple[Callable[[], Any], str]], batch_size: int, image_size: int) -> float:
    """One forward and backward pass of each (model builder, precision) on ``device``, untimed, once per
    session before its first case: CUDA context, cuBLAS/cuDNN handles, lazily loaded kernels and oneDNN's
    primitives are made here instead of inside the first case's timing. Returns the seconds it took."""
    import torch

    t0 = time.perf_counter()
    x = torch.randn(batch_size, 3, image_size, image_size, device=device)
    for build, precision in models:
        model = build().to(device).train()
        with torch.autocast(device.type, dtype=mixed_dtype(device), enabled=precision == "mixed"):
            out = model(x)
        out.float().mean().backward()
        del model, out
    synchronize(device)
    del x
    release_freed_memory(device)
    return time.perf_counter() - t0

