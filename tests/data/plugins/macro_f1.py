"""A metric plugin in one file: macro-averaged F1 over the classes, as fastai's F1Score computes it."""
from recipebench import Metric, hookimpl


def macro_f1():
    """A fresh fastai metric for each Learner (it accumulates predictions over the validation set)."""
    from fastai.metrics import F1Score

    return F1Score(average="macro")


@hookimpl
def recipebench_add_metrics(register):
    register(Metric("macro_f1", "F1 score averaged over the classes (fastai's F1Score(average='macro'))",
                    better="higher", compute=macro_f1))
