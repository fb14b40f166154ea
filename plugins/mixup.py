"""The next chapter's mixup on the baseline (``suite="next_chapter"``: ``--suite next_chapter``):

    learn = vision_learner(dls, resnet34, metrics=error_rate, cbs=MixUp())
    learn.fine_tune(2)

``MixUp(alpha=0.4)``. The chapter says mixup needs far more epochs than other augmentations (on Imagenette
it led only beyond 80) and never ran it; ``--recipe-option mixup.epochs=N`` trains ``fine_tune(N)``. The
default, the baseline's 2, measures it at the baseline's cost, on the session's pretrained body.
"""
from recipebench import Option, Recipe, hookimpl


def mixup_callback():
    """A fresh ``MixUp(alpha=0.4)`` for each Learner."""
    from fastai.callback.mixup import MixUp

    return MixUp(alpha=0.4)


def mixup(ctx):
    ctx.learn.fine_tune(ctx.epochs(ctx.options["epochs"]))


@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("mixup", mixup, cbs=(mixup_callback,), suite="next_chapter",
                    summary="cbs=MixUp(); fine_tune(epochs=2) (--suite next_chapter)",
                    options={"epochs": Option(2, help="fine_tune's unfrozen epochs (mixup needs many)")}))
