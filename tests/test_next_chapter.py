"""The next chapter's recipes at smoke scale (label smoothing, mixup, progressive resizing) and the plugin API
they use: a recipe's loss function and callbacks (a fresh instance per Learner), and ``ctx.dataloaders`` at
another size over the same items and split, under the run's seed protocol."""
from __future__ import annotations

import dataclasses
import json

import pytest

from recipebench.train import runner
from recipebench.api import Recipe
from recipebench.record.results import RunResult, validate

SMOKE_SIZE, SMOKE_BS = 32, 16  # the synthetic workload's smoke scale


@pytest.fixture(scope="module")
def next_session(smoke_session, cache_dir, tmp_path_factory):
    """``--suite next_chapter`` at smoke scale on the synthetic workload (the smoke session's data and weights)."""
    from recipebench.suite.options import Options
    from recipebench.suite.session import BenchSession

    return BenchSession(Options(scale="smoke", device="cpu", cache_dir=cache_dir, suite="next_chapter",
                                results_dir=tmp_path_factory.mktemp("results")), smoke_session.registry)


@pytest.mark.parametrize("name, loss, callbacks, sizes, batch_sizes, calls", [
    # smoke caps every fit at one epoch: fine_tune(1) is one frozen epoch and one unfrozen
    ("label_smoothing", "LabelSmoothingCrossEntropy", (), [32, 32], [16, 16], [("fine_tune", (1,))]),
    ("mixup", "CrossEntropyLossFlat", ("MixUp",), [32, 32], [16, 16], [("fine_tune", (1,))]),
    # 128/224 of the smoke size (32 px) is 18 px, at twice its batch size (16)
    ("progressive_resizing", "CrossEntropyLossFlat", (), [18, 32, 32], [32, 16, 16],
     [("fit_one_cycle", (1, 3e-3)), ("fine_tune", (1, 1e-3))]),
])
def test_the_recipe_runs_at_smoke_and_its_result_says_what_it_used(next_session, name, loss, callbacks, sizes,
                                                                   batch_sizes, calls):
    result = next_session.prepare(name, 0).execute()
    assert result.ok, result.error
    validate(result.to_dict())
    assert RunResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    assert (result.config.loss_func, result.config.callbacks) == (loss, callbacks)
    assert [e.image_size for e in result.epochs] == sizes  # measured on the batches trained
    assert [e.batch_size for e in result.epochs] == batch_sizes
    assert all(e.train_samples > 0 and e.train_s > 0 for e in result.epochs)
    assert [(c.method, tuple(c.args)) for c in result.calls] == calls
    assert (result.config.image_size, result.config.batch_size) == (SMOKE_SIZE, SMOKE_BS)
    assert name in {r.name for r in next_session.recipes} and next_session.registry.recipe(name).suite == "next_chapter"


def test_img_per_s_is_recorded_per_image_size(next_session):
    result = next_session.prepare("progressive_resizing", 0).execute()
    by_size = result.samples_per_s_by_image_size
    assert list(by_size) == [18, 32]
    small = result.epochs[0]
    assert by_size[18] == pytest.approx(small.train_samples / small.train_s)


def _probe_class():
    """A callback that counts the training epochs it saw."""
    from fastai.callback.core import Callback

    class CountingProbe(Callback):
        def __init__(self):
            self.fits = 0

        def before_train(self):
            self.fits += 1

    return CountingProbe


def test_each_learner_gets_fresh_instances_of_the_recipes_loss_and_callbacks(smoke_session):
    from fastai.losses import LabelSmoothingCrossEntropy

    probe = _probe_class()
    seen = []

    def retrain(ctx):
        seen.append((ctx.learn.loss_func, [cb for cb in ctx.learn.cbs if isinstance(cb, probe)]))
        ctx.learn.fit_one_cycle(1)
        ctx.new_learner()
        seen.append((ctx.learn.loss_func, [cb for cb in ctx.learn.cbs if isinstance(cb, probe)]))
        ctx.learn.fit_one_cycle(1)

    recipe = Recipe("retrain", retrain, "s", loss_func=LabelSmoothingCrossEntropy, cbs=[probe])
    assert recipe.cbs == (probe,) and hash((recipe.loss_func, recipe.cbs))  # immutable, hashable
    result = runner.prepare(dataclasses.replace(smoke_session.plan("baseline", 0), recipe=recipe)).execute()
    assert result.ok, result.error
    (loss1, (cb1,)), (loss2, (cb2,)) = seen
    assert isinstance(loss1, LabelSmoothingCrossEntropy) and loss1 is not loss2 and cb1 is not cb2
    assert (cb1.fits, cb2.fits) == (1, 1)  # each trained in its own Learner's fit, and only there
    assert (result.config.loss_func, result.config.callbacks) == ("LabelSmoothingCrossEntropy", ("CountingProbe",))


def test_a_loss_or_callback_instance_instead_of_a_factory_is_refused():
    from fastai.callback.mixup import MixUp
    from fastai.losses import LabelSmoothingCrossEntropy

    with pytest.raises(ValueError, match="recipe 'r': loss_func must be a factory called with no arguments"):
        Recipe("r", lambda ctx: None, "s", loss_func=LabelSmoothingCrossEntropy())
    with pytest.raises(ValueError, match="recipe 'r': cbs must be factories called with no arguments"):
        Recipe("r", lambda ctx: None, "s", cbs=(MixUp(),))
    assert Recipe("r", lambda ctx: None, "s", cbs=MixUp).cbs == (MixUp,)  # one factory alone


def test_ctx_dataloaders_are_the_same_items_and_split_at_another_size_under_the_seed_protocol(smoke_session):
    import torch
    from fastai.data.transforms import Normalize

    got = {}

    def resize(ctx):
        before = ctx.learn.dls
        dls = ctx.dataloaders(image_size=16, batch_size=8)
        got["seed"] = torch.initial_seed()  # set_seed(seed) again after the splitter's manual_seed(42)
        got["same"] = (list(dls.train_ds.items) == list(before.train_ds.items)
                       and list(dls.valid_ds.items) == list(before.valid_ds.items))
        got["normalized"] = [any(isinstance(t, Normalize) for t in d.after_batch.fs) for d in (before, dls)]
        ctx.learn.dls = dls
        x, _ = dls.one_batch()
        got["batch"] = tuple(x.shape)
        ctx.learn.fit_one_cycle(1)

    plan = dataclasses.replace(smoke_session.plan("baseline", 3), recipe=Recipe("resize", resize, "s"))
    result = runner.prepare(plan).execute()
    assert result.ok, result.error
    assert got["seed"] == 3 and got["same"] and got["normalized"] == [True, True]
    assert got["batch"] == (8, 3, 16, 16)
    assert [(e.image_size, e.batch_size) for e in result.epochs] == [(16, 8)]


def test_ctx_dataloaders_draw_the_same_batches_for_the_same_seed(smoke_session):
    """Two runs of one seed get the same resized DataLoaders' batches; another seed gets others."""
    import torch

    def first_batch(seed):
        out = {}

        def grab(ctx):
            dls = ctx.dataloaders(image_size=16)
            out["x"] = dls.train.one_batch()[0].clone()

        plan = dataclasses.replace(smoke_session.plan("baseline", seed), recipe=Recipe("grab", grab, "s"))
        run = runner.prepare(plan)
        run.train()
        run.close()
        return out["x"]

    assert torch.equal(first_batch(1), first_batch(1))
    assert not torch.equal(first_batch(1), first_batch(2))


def test_the_live_progress_plans_progressive_resizing_s_epochs(registry):
    """The dry run that plans a suite's epochs follows ``ctx.dataloaders`` (a stand-in) instead of giving up."""
    from recipebench.train import dryrun
    from recipebench.plugins.synthetic import SCALES

    plan = dryrun.plan(registry.recipe("progressive_resizing"), SCALES["smoke"], {})
    assert plan == dryrun.Plan(epochs=3, lr_finds=0)  # fit_one_cycle(1); fine_tune(1): one frozen, one unfrozen


def test_ctx_dataloaders_at_sizes_that_cannot_be_says_so_naming_the_call():
    from pathlib import Path

    from recipebench.train.context import RunContext
    from recipebench.train.measure import RunLog
    from recipebench.plugins.synthetic import SCALES

    ctx = RunContext(None, SCALES["smoke"], {}, RunLog("cpu"), new_learner=lambda: None, snapshot_dir=Path("."),
                     dataloaders=lambda scale: scale)
    assert ctx.dataloaders(image_size=16).image_size == 16 and ctx.dataloaders().batch_size == SMOKE_BS
    with pytest.raises(ValueError, match=r"ctx.dataloaders\(image_size=64\): presize 48 is smaller than image_size 64"):
        ctx.dataloaders(image_size=64)
    with pytest.raises(ValueError, match=r"ctx.dataloaders\(batch_size=0\): batch_size must be positive, got 0"):
        ctx.dataloaders(batch_size=0)
