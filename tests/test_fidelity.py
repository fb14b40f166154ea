"""At full scale every recipe issues exactly the chapter's calls -- checked without training.

A spy stands in for the Learner: it records each call, and its fits append epochs with a chapter-like
error curve (best at epoch 9 of 12) so recipes that read the harness's measurements can proceed.
"""
from __future__ import annotations

import collections
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from recipebench.context import RunContext
from recipebench.measure import RunLog
from recipebench.plugins import synthetic
from recipebench.results import EpochRecord

FULL = synthetic.SCALES["full"]
SUGGESTED = {"minimum": 1.0e-2, "steep": 5.25e-3, "valley": 1.2e-5, "slide": 4e-4}  # what the spy's lr_find says
CURVE = [0.0677, 0.0663, 0.0622, 0.0629, 0.0643, 0.0562, 0.0589, 0.0535, 0.0514, 0.0541, 0.0541, 0.0541]


class SpyLearner:
    """Records calls; training calls add epochs to the run log instead of training."""

    def __init__(self, log: RunLog) -> None:
        self.calls: list[tuple] = []
        self.log = log
        self.metrics = [SimpleNamespace(name="error_rate")]
        self.model = torch.nn.Linear(1, 1)  # what the harness saves at the end of an outcome

    def _epochs(self, n: int) -> None:
        for i in range(n):
            self.log.epochs.append(EpochRecord(len(self.log.epochs) + 1, "unfrozen", 1, 1.0, 1.0,
                                               CURVE[i % len(CURVE)], 1.0, 1.0, 64))

    def _record(self, name, *args, **kwargs):
        self.calls.append((name, args, kwargs))

    def fine_tune(self, epochs, *args, **kwargs):
        self._record("fine_tune", epochs, *args, **kwargs)
        self._epochs(kwargs.get("freeze_epochs", 1) + epochs)

    def fit_one_cycle(self, n_epoch, *args, **kwargs):
        self._record("fit_one_cycle", n_epoch, *args, **kwargs)
        self._epochs(n_epoch)

    def lr_find(self, *args, **kwargs):
        self._record("lr_find", *args, **kwargs)
        funcs = kwargs.get("suggest_funcs", (SimpleNamespace(__name__="valley"),))
        names = [f.__name__ for f in funcs]
        return collections.namedtuple("SuggestedLRs", names)(*(SUGGESTED[n] for n in names))

    def validate(self):
        return [1.0, CURVE[-1]]

    def __getattr__(self, name):  # unfreeze, freeze, save, load, to_fp16, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._record(name, *args, **kwargs)


def spy_run(registry, recipe_name: str, **options):
    recipe = registry.recipe(recipe_name)
    log = RunLog("cpu")
    learn = SpyLearner(log)
    with tempfile.TemporaryDirectory() as snapshots:
        ctx = RunContext(learn, FULL, {**recipe.defaults, **options}, log, new_learner=lambda: learn,
                         snapshot_dir=Path(snapshots))
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
    import torch

    from recipebench import precision

    cuda, cpu = SpyLearner(RunLog("cpu")), SpyLearner(RunLog("cpu"))
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


def test_full_scale_is_the_chapters_data_settings():
    assert (FULL.presize, FULL.image_size, FULL.batch_size, FULL.arch) == (460, 224, 64, "resnet34")
    assert FULL.max_epochs_per_fit is None and FULL.lr_find_num_it is None


def test_every_builtin_recipe_has_a_fidelity_test(registry):
    tested = {"baseline", "lr_find_tuned", "freeze_unfreeze", "discriminative_lr", "resnet50_mixed_precision",
              "resnet50_fp32", "early_stopping_contrast"}
    builtin = {n for n, r in registry.recipes.items() if r.origin == "built-in"}
    assert builtin == tested
