"""The built-in metrics, registered exactly as an outside plugin registers its own.

* ``error_rate``  -- fastai's ``error_rate``, the chapter's metric: the share of validation images wrong.
* ``valid_loss``  -- the validation loss fastai's Recorder records anyway (nothing to compute).
* ``top_5_error`` -- 1 - fastai's ``top_k_accuracy(k=5)``: the share of validation images whose class is
  not among the model's five likeliest. With five classes or fewer every class is among them, so it is 0
  by construction (recorded as 0, which is true, not left out).
"""
from recipebench import Metric, hookimpl


def top_5_error(inp, targ):
    """1 - fastai's ``top_k_accuracy(inp, targ, k=5)``; 0 with five classes or fewer (all are in the top 5)."""
    from fastai.metrics import top_k_accuracy

    return 1 - top_k_accuracy(inp, targ, k=min(5, inp.shape[-1]))


def error_rate(inp, targ):
    """fastai's ``error_rate`` (imported when a Learner first measures, not when the plugin is loaded)."""
    from fastai.metrics import error_rate as fastai_error_rate

    return fastai_error_rate(inp, targ)


@hookimpl
def recipebench_add_metrics(register):
    register(Metric("error_rate", "share of validation images classified wrong (fastai's error_rate; the chapter's)",
                    counts=True, min_effect=0.5, compute=error_rate))  # 0.5 pp: the chapter's noise
    register(Metric("valid_loss", "the loss over the validation images (fastai's Recorder)", unit="%",
                    min_effect=5.0, compute=None))
    register(Metric("top_5_error", "share of validation images whose class is not among the five likeliest "
                    "(1 - fastai's top_k_accuracy(k=5)); 0 by construction with five classes or fewer",
                    counts=True, min_effect=0.5, compute=top_5_error))
