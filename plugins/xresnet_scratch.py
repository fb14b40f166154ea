"""The next chapter's baseline, trained from scratch (``suite="next_chapter"``: ``--suite next_chapter``):

    learn = Learner(dls, xresnet50(), loss_func=CrossEntropyLossFlat(), metrics=accuracy)
    learn.fit_one_cycle(5, 3e-3)

``weights="none"``: random initialisation whatever ``--weights`` says; its results say ``weights: none``.
It trains the workload's architecture: on ``--workload imagenette`` ``xresnet50`` at full, as the chapter
(``xresnet18`` at smoke, ``xresnet34`` at quick); elsewhere ``--arch xresnet50`` chooses it. The loss is
``CrossEntropyLossFlat``, the DataLoaders' default, and ``error_rate`` is 1 - ``accuracy``; there is no
Normalize, as in the chapter's baseline. One difference: the harness builds the model as
``vision_learner`` would (fastai's body cut at -4 and fastai's head for the workload's classes), not
``xresnet50()`` whole, whose own head is a 1000-way linear layer.
"""
from recipebench import Recipe, hookimpl


def xresnet_from_scratch(ctx):
    ctx.learn.fit_one_cycle(ctx.epochs(5), 3e-3)


@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("xresnet_from_scratch", xresnet_from_scratch, weights="none", suite="next_chapter",
                    summary="random init (--suite next_chapter); fit_one_cycle(5, 3e-3)"))
