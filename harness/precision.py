"""Mixed precision that is never mislabelled.

fastai's ``to_fp16()`` hard-codes CUDA autocast: without CUDA it only warns and trains in float32.
So a recipe asks for ``precision="mixed"`` and the harness picks what really works on the device:

* CUDA: fastai's ``to_fp16()`` (float16 autocast with a gradient scaler), label ``fp16``;
* CPU:  :func:`bf16_autocast` below (bfloat16 autocast, no scaler needed), label ``bf16``.

Either way the label in the result is *observed*: the dtype of the model's output during training
(:class:`harness.measure.RunLog.pred_dtypes`), not the request.
"""
from __future__ import annotations

DTYPE_LABELS = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}


def bf16_autocast():
    """A fastai Callback running forward pass and loss under ``torch.autocast('cpu', bfloat16)``."""
    import torch
    from fastai.callback.core import Callback
    from fastai.torch_core import to_float

    class BF16Autocast(Callback):
        "bfloat16 autocast on the CPU; the output is cast back to float32 before the loss, like MixedPrecision."
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

    return BF16Autocast()


def apply(learn, precision: str, device) -> None:
    """Set ``learn`` up for ``precision`` ("fp32" or "mixed") on ``device``."""
    if precision == "fp32":
        return
    if precision != "mixed":
        raise ValueError(f"unknown precision {precision!r}; use 'fp32' or 'mixed'")
    if getattr(device, "type", str(device)) == "cuda":
        learn.to_fp16()
    else:
        learn.add_cb(bf16_autocast())


def observed_label(pred_dtypes: list[str]) -> str:
    """The precision label for the dtypes seen in training: "fp32", "bf16", "fp16", or e.g. "bf16+fp32"."""
    seen = []
    for dtype in pred_dtypes:
        label = DTYPE_LABELS.get(dtype, dtype)
        if label not in seen:
            seen.append(label)
    return "+".join(seen) if seen else "fp32"
