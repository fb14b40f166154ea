"""Mixed precision that is never mislabelled.

fastai's ``to_fp16()`` hard-codes CUDA autocast: without CUDA it only warns and trains in float32.
So a recipe asks for ``precision="mixed"`` and the harness picks what really works on the device:

* CUDA: fastai's ``to_fp16()`` (float16 autocast with a gradient scaler), label ``fp16``;
* CPU:  :class:`recipebench.train.callbacks.BF16Autocast` (bfloat16 autocast, no scaler needed), label ``bf16``.

Either way the label in the result is *observed*: the dtype of the model's output during training
(:class:`recipebench.train.measure.RunLog.pred_dtypes`), not the request.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

from recipebench.record.environment import is_cuda

DTYPE_LABELS = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def apply(learn, precision: str, device) -> None:
    """Set ``learn`` up for ``precision`` ("fp32" or "mixed") on ``device``."""
    if precision == "fp32":
        return
    if precision != "mixed":
        raise ValueError(f"unknown precision {precision!r}; use 'fp32' or 'mixed'")
    if is_cuda(device):
        learn.to_fp16()
    else:
        from recipebench.train.callbacks import BF16Autocast

        learn.add_cb(BF16Autocast())


def observed_label(pred_dtypes: list[str]) -> str:
    """The precision label for the dtypes seen in training: "fp32", "bf16", "fp16", or e.g. "bf16+fp32"."""
    seen = []
    for dtype in pred_dtypes:
        label = DTYPE_LABELS.get(dtype, dtype)
        if label not in seen:
            seen.append(label)
    return "+".join(seen) if seen else "fp32"


def autocast_enabled() -> bool:
    """Whether autocast is on in this thread, for either device type."""
    import torch

    return torch.is_autocast_enabled("cpu") or torch.is_autocast_enabled("cuda")


def reset_autocast() -> None:
    """Autocast off for both device types, its nesting back to zero, its cast cache cleared, its
    dtypes back to torch's defaults: the state of a fresh process."""
    import torch

    level = torch.autocast_increment_nesting() - 1  # read the nesting level by moving it up and back
    torch.autocast_decrement_nesting()
    for _ in range(max(level, 0)):
        torch.autocast_decrement_nesting()
    for device_type, dtype in (("cpu", torch.bfloat16), ("cuda", torch.float16)):
        torch.set_autocast_enabled(device_type, False)
        torch.set_autocast_dtype(device_type, dtype)
    torch.clear_autocast_cache()


@contextlib.contextmanager
def autocast_off() -> Iterator[None]:
    """A run starts and ends with autocast off. fastai's MixedPrecision and the harness's BF16Autocast
    enter autocast in ``before_batch`` and leave it in ``after_loss``: a batch that raises in between
    leaves it on, and every later float32 run would train (and be labelled) in mixed precision."""
    if autocast_enabled():
        warnings.warn("autocast was left on before this run (an earlier run failed mid-batch); switched off",
                      RuntimeWarning, stacklevel=3)
    reset_autocast()
    try:
        yield
    finally:
        reset_autocast()
