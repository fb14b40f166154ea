"""The next chapter's test-time augmentation, as an evaluation of any recipe's final weights:

    preds, targs = learn.tta()
    accuracy(preds, targs).item()

fastai 2.8's ``Learner.tta(ds_idx=1, dl=None, n=4, item_tfms=None, batch_tfms=None, beta=0.25, use_max=False)``
predicts the validation set n=4 times with the training transforms, then once plainly, and returns
``torch.lerp(mean of the 4, plain, beta)``: 0.75 x augmented + 0.25 x plain. The same call at every scale (it is
inference only). Asked for with ``--evaluate tta`` (or ``Recipe(evaluations=("tta",))``): the harness runs it on
the final weights, and each outcome's, times it apart from the training and records ``recipe > tta`` rows with
their error rate (from these predictions) and ``inference_s``.
"""
from recipebench import Evaluation, hookimpl

N, BETA = 4, 0.25  # fastai's defaults, the chapter's call


def tta(ctx):
    return ctx.learn.tta(n=N, beta=BETA)


@hookimpl
def recipebench_add_evaluations(register):
    register(Evaluation("tta", tta, summary=f"learn.tta(n={N}, beta={BETA}): test-time augmentation of the final "
                                            "weights (--evaluate tta)"))
