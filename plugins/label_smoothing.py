"""The next chapter's label smoothing on the baseline (``suite="next_chapter"``: ``--suite next_chapter``):

    learn = vision_learner(dls, resnet34, loss_func=LabelSmoothingCrossEntropy(), metrics=error_rate)
    learn.fine_tune(2)

``LabelSmoothingCrossEntropy(eps=0.1)``: with 10 classes the targets become 0.91 and 0.01. The chapter trains
it from scratch (``fit_one_cycle(5, 3e-3)``) and never ran it; here it is the baseline, on the session's
pretrained body, so it is measured against ``baseline`` with everything else the same.
"""
from recipebench import Recipe, hookimpl
from recipebench.plugins.baseline import baseline


def label_smoothing_cross_entropy():
    """A fresh ``LabelSmoothingCrossEntropy(eps=0.1)`` for each Learner."""
    from fastai.losses import LabelSmoothingCrossEntropy

    return LabelSmoothingCrossEntropy(eps=0.1)


@hookimpl
def recipebench_add_recipes(register):
    register(Recipe("label_smoothing", baseline, loss_func=label_smoothing_cross_entropy, suite="next_chapter",
                    summary="loss_func=LabelSmoothingCrossEntropy(); fine_tune(2) (--suite next_chapter)"))
