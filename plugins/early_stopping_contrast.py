"""Keep the best epoch ("early stopping") or retrain for that many epochs (the chapter's advice)?

Both arms start from the same frozen start (``fit_one_cycle(3, 3e-3)``; ``unfreeze()``):

* ``keep_best``: ``fit_one_cycle(12, slice(1e-6, 1e-4))`` keeping the best epoch's weights
  (fastai's SaveModelCallback on error_rate, reloaded at the end);
* ``retrain_k``: back to the frozen start, ``fit_one_cycle(k, slice(1e-6, 1e-4))`` where k is the
  epoch at which ``keep_best`` found its best -- "retrain your model from scratch, and this time select
  a total number of epochs based on where your previous best results were found".

Each arm is an outcome of its own (3 + 12 and 3 + k epochs), with its error rate and time.
"""
from recipebench import Recipe, hookimpl


def early_stopping_contrast(ctx):
    import numpy as np
    from fastai.callback.tracker import SaveModelCallback

    learn = ctx.learn
    with ctx.stage("frozen_start") as start:
        learn.fit_one_cycle(ctx.epochs(3), 3e-3)
        learn.unfreeze()
    learn.save("frozen_start")
    with ctx.outcome("keep_best", after=start) as keep_best:
        learn.fit_one_cycle(ctx.epochs(12), slice(1e-6, 1e-4),
                            cbs=SaveModelCallback(monitor="error_rate", comp=np.less, fname="best"))
    k = keep_best.best_own_epoch
    learn.load("frozen_start")
    with ctx.outcome("retrain_k", after=start):
        learn.fit_one_cycle(k, slice(1e-6, 1e-4))


@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("early_stopping_contrast", early_stopping_contrast,
                    summary="fit_one_cycle(3); unfreeze; A: fit_one_cycle(12) keep best; B: fit_one_cycle(k)"))
