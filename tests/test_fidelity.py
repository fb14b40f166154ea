"""At full scale every recipe issues exactly the chapter's calls -- checked without training.

A stand-in Learner (:class:`recipebench.train.dryrun.DryRunLearner`) records each call, and its fits append
epochs with a chapter-like error curve (best at epoch 9 of 12) so recipes that read the harness's
measurements can proceed.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import torch

from recipebench.train.context import RunContext
from recipebench.train.dryrun import DryRunDataLoaders, DryRunLearner
from recipebench.train.measure import RunLog
from recipebench.plugins import synthetic

FULL = synthetic.SCALES["full"]
SUGGESTED = {"minimum": 1.0e-2, "steep": 5.25e-3, "valley": 1.2e-5, "slide": 4e-4}  # what the spy's lr_find says
CURVE = [0.0677, 0.0663, 0.0622, 0.0629, 0.0643, 0.0562, 0.0589, 0.0535, 0.0514, 0.0541, 0.0541, 0.0541]


def spy_run(registry, recipe_name: str, **options):
    recipe = registry.recipe(recipe_name)
    log = RunLog("cpu")
    learn = DryRunLearner(log, curve=CURVE, suggested=SUGGESTED)
    with tempfile.TemporaryDirectory() as snapshots:
        ctx = RunContext(learn, FULL, {**recipe.defaults, **options}, log, new_learner=lambda: learn,
                         snapshot_dir=Path(snapshots), dataloaders=DryRunDataLoaders.at)
        recipe.train(ctx)
    return [(name, args, _plain(kwargs)) for name, args, kwargs in learn.calls]


def _plain(kwargs):
    """Callbacks and suggestion functions by name, so calls compare as data."""
    out = {}
    for key, value in kwargs.items():
        if key == "suggest_funcs":
            value = tuple(f.__name__ for f in value)
        elif key == "cbs":
            value = (type(value).__name__, value.monitor, value.comp.__name__)
        out[key] = value
    return out


def test_baseline(registry):
    assert spy_run(registry, "baseline") == [("fine_tune", (2,), {})]


def test_lr_find_tuned_uses_the_minimum_suggestion_by_default(registry):
    assert spy_run(registry, "lr_find_tuned") == [
        ("lr_find", (), {"suggest_funcs": ("minimum", "steep")}),
        ("fine_tune", (2,), {"base_lr": SUGGESTED["minimum"]}),
    ]


def test_lr_find_tuned_can_use_steep(registry):
    assert spy_run(registry, "lr_find_tuned", suggestion="steep")[1] == ("fine_tune", (2,), {"base_lr": 5.25e-3})


def test_freeze_unfreeze(registry):
    assert spy_run(registry, "freeze_unfreeze") == [
        ("fit_one_cycle", (3, 3e-3), {}),
        ("unfreeze", (), {}),
        ("lr_find", (), {}),
        ("fit_one_cycle", (6,), {"lr_max": SUGGESTED["valley"]}),
    ]


def test_discriminative_lr(registry):
    assert spy_run(registry, "discriminative_lr") == [
        ("fit_one_cycle", (3, 3e-3), {}),
        ("unfreeze", (), {}),
        ("fit_one_cycle", (12,), {"lr_max": slice(1e-6, 1e-4)}),
    ]


@pytest.mark.parametrize("name, precision", [("resnet50_mixed_precision", "mixed"), ("resnet50_fp32", "fp32")])
def test_resnet50(registry, name, precision):
    assert spy_run(registry, name) == [("fine_tune", (6,), {"freeze_epochs": 3})]
    recipe = registry.recipe(name)
    assert (recipe.arch_role, recipe.precision) == ("deep", precision)
    assert FULL.deep_arch == "resnet50"


def test_mixed_precision_is_to_fp16_on_cuda_and_bf16_autocast_on_cpu():

    from recipebench.train import precision

    cuda, cpu = DryRunLearner(RunLog("cpu")), DryRunLearner(RunLog("cpu"))
    precision.apply(cuda, "mixed", torch.device("cuda"))
    assert cuda.calls == [("to_fp16", (), {})]
    precision.apply(cpu, "mixed", torch.device("cpu"))
    (name, (callback,), _), = cpu.calls
    assert name == "add_cb" and type(callback).__name__ == "BF16Autocast"


def test_early_stopping_contrast(registry):
    best_k = CURVE.index(min(CURVE)) + 1  # the 9th, as in the chapter's discriminative run
    keep_best = ("SaveModelCallback", "error_rate", "less")
    assert spy_run(registry, "early_stopping_contrast") == [
        ("fit_one_cycle", (3, 3e-3), {}),
        ("unfreeze", (), {}),
        ("save", ("frozen_start",), {}),
        ("fit_one_cycle", (12, slice(1e-6, 1e-4)), {"cbs": keep_best}),
        ("load", ("frozen_start",), {}),
        ("fit_one_cycle", (best_k, slice(1e-6, 1e-4)), {}),
    ]


def test_xresnet_from_scratch(registry):
    """The next chapter's ``Learner(dls, xresnet50(), ...)`` + ``fit_one_cycle(5, 3e-3)``: random init, xresnet50
    at Imagenette's full scale, outside the default suite."""
    assert spy_run(registry, "xresnet_from_scratch") == [("fit_one_cycle", (5, 3e-3), {})]
    recipe = registry.recipe("xresnet_from_scratch")
    assert (recipe.weights, recipe.suite, recipe.arch_role, recipe.precision) == ("none", "next_chapter", "default",
                                                                                  "fp32")
    assert registry.workload("imagenette").scales["full"].arch == "xresnet50"


def test_label_smoothing(registry):
    """The baseline with ``loss_func=LabelSmoothingCrossEntropy()`` (eps 0.1), a fresh one per Learner."""
    from fastai.losses import LabelSmoothingCrossEntropy

    assert spy_run(registry, "label_smoothing") == [("fine_tune", (2,), {})]
    recipe = registry.recipe("label_smoothing")
    loss = recipe.loss_func()
    assert type(loss) is LabelSmoothingCrossEntropy and loss.eps == 0.1 and loss is not recipe.loss_func()
    assert (recipe.cbs, recipe.weights, recipe.suite) == ((), "session", "next_chapter")


def test_mixup(registry):
    """The baseline with ``cbs=MixUp()`` (alpha 0.4); ``mixup.epochs`` trains longer, as the chapter says it needs."""
    from fastai.callback.mixup import MixUp

    assert spy_run(registry, "mixup") == [("fine_tune", (2,), {})]
    assert spy_run(registry, "mixup", epochs=20) == [("fine_tune", (20,), {})]
    recipe = registry.recipe("mixup")
    (factory,) = recipe.cbs
    cb = factory()
    alpha = torch.tensor(0.4)  # MixUp(alpha) keeps Beta(tensor(alpha), tensor(alpha)), in float32
    assert type(cb) is MixUp
    assert torch.equal(cb.distrib.concentration1, alpha) and torch.equal(cb.distrib.concentration0, alpha)
    assert (recipe.loss_func, recipe.weights, recipe.suite) == (None, "session", "next_chapter")


def test_progressive_resizing(registry):
    """``dls = get_dls(128, 128)``; ``fit_one_cycle(4, 3e-3)``; ``learn.dls = get_dls(64, 224)``;
    ``fine_tune(5, 1e-3)``: the same block (Resize(460)), items and split at both sizes."""
    assert spy_run(registry, "progressive_resizing") == [
        ("dls", (DryRunDataLoaders(image_size=128, presize=460, batch_size=128),), {}),
        ("fit_one_cycle", (4, 3e-3), {}),
        ("dls", (DryRunDataLoaders(image_size=224, presize=460, batch_size=64),), {}),
        ("fine_tune", (5, 1e-3), {}),
    ]
    recipe = registry.recipe("progressive_resizing")
    assert (recipe.loss_func, recipe.cbs, recipe.weights, recipe.suite) == (None, (), "session", "next_chapter")


def test_full_scale_is_the_chapters_data_settings():
    assert (FULL.presize, FULL.image_size, FULL.batch_size, FULL.arch) == (460, 224, 64, "resnet34")
    assert FULL.max_epochs_per_fit is None and FULL.lr_find_num_it is None


def test_every_builtin_recipe_has_a_fidelity_test(registry):
    tested = {"baseline", "lr_find_tuned", "freeze_unfreeze", "discriminative_lr", "resnet50_mixed_precision",
              "resnet50_fp32", "early_stopping_contrast", "xresnet_from_scratch", "label_smoothing", "mixup",
              "progressive_resizing"}
    builtin = {n for n, r in registry.recipes.items() if r.origin == "built-in"}
    assert builtin == tested


def test_tta_is_the_chapters_call(registry):
    """The next chapter's ``preds, targs = learn.tta()``: fastai 2.8's defaults n=4, beta=0.25, said out loud,
    on the validation set (ds_idx 1, fastai's default), at every scale."""
    from recipebench.api import EvaluationContext

    evaluation = registry.evaluation("tta")
    for scale in synthetic.SCALES.values():
        learn = DryRunLearner(RunLog("cpu"))
        evaluation.predict(EvaluationContext(learn, scale))
        assert learn.calls == [("tta", (), {"n": 4, "beta": 0.25})]


def test_every_builtin_evaluation_has_a_fidelity_test(registry):
    builtin = {n for n, r in registry.evaluations.items() if r.origin == "built-in"}
    assert builtin == {"tta"}
