"""Mixed precision that is never mislabelled.

fastai's ``to_fp16()`` hard-codes CUDA autocast: without CUDA it only warns and trains in float32.
So a recipe asks for ``precision="mixed"`` and the harness picks what really works on the device:

* CUDA: fastai's ``to_fp16()`` (float16 autocast with a gradient scaler), label ``fp16``;
* CPU:  :class:`recipebench.callbacks.BF16Autocast` (bfloat16 autocast, no scaler needed), label ``bf16``.

Either way the label in the result is *observed*: the dtype of the model's output during training
(:class:`recipebench.measure.RunLog.pred_dtypes`), not the request.
"""
from __future__ import annotations

from recipebench.environment import is_cuda

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
        from recipebench.callbacks import BF16Autocast

        learn.add_cb(BF16Autocast())


def observed_label(pred_dtypes: list[str]) -> str:
    """The precision label for the dtypes seen in training: "fp32", "bf16", "fp16", or e.g. "bf16+fp32"."""
    seen = []
    for dtype in pred_dtypes:
        label = DTYPE_LABELS.get(dtype, dtype)
        if label not in seen:
            seen.append(label)
    return "+".join(seen) if seen else "fp32"
