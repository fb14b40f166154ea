"""The measurements themselves: memory not inherited, precision observed, outcomes, failures kept."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from recipebench import Recipe
from recipebench.train.measure import PeakMemory, jsonable
from recipebench.train.precision import observed_label
from recipebench.record.results import validate
from recipebench.train.runner import prepare


def run(session, train, name="probe", precision="fp32", arch_role="default", options=None):
    recipe = Recipe(name, train, summary="test", precision=precision, arch_role=arch_role, options=options or {})
    plan = dataclasses.replace(session.plan("baseline", 0), recipe=recipe, recipe_plugin="tests",
                               recipe_options=dict(recipe.defaults))
    result = prepare(plan).execute()
    validate(result.to_dict())
    return result


def test_cpu_peak_memory_is_not_inherited_from_the_block_before():
    with PeakMemory("cpu") as big:
        block = np.ones(400 * 2**20 // 8)  # 400 MB, touched
        del block
    with PeakMemory("cpu") as small:
        np.ones(10)
    assert big.peak_bytes - small.peak_bytes > 300 * 2**20
    assert "reset" in small.method


def test_mixed_precision_on_cpu_is_bf16_and_says_so(smoke_session):
    r = run(smoke_session, lambda ctx: ctx.learn.fit_one_cycle(1, 1e-3), precision="mixed")
    assert (r.precision, r.precision_requested) == ("bf16", "mixed")
    assert r.ok and r.epochs[0].error_rate is not None


def test_fastai_to_fp16_on_cpu_trains_float32_and_is_labelled_so(smoke_session):
    def to_fp16_anyway(ctx):
        ctx.learn.to_fp16()  # fastai only warns without CUDA, then trains in float32
        ctx.learn.fit_one_cycle(1, 1e-3)

    with pytest.warns(UserWarning):
        r = run(smoke_session, to_fp16_anyway)
    assert r.precision == "fp32"


def test_observed_label():
    assert observed_label(["bfloat16", "bfloat16"]) == "bf16"
    assert observed_label(["float16"]) == "fp16"
    assert observed_label(["bfloat16", "float32"]) == "bf16+fp32"


def test_a_failing_recipe_is_recorded_not_lost(smoke_session):
    def broken(ctx):
        ctx.learn.fit_one_cycle(1, 1e-3)
        raise RuntimeError("boom in the recipe")

    r = run(smoke_session, broken)
    assert r.status == "error" and "boom in the recipe" in r.error and "Traceback" in r.error
    assert len(r.epochs) == 1 and r.error_rate is None


def test_lr_find_is_recorded_with_every_suggestion(smoke_session):
    from fastai.callback.schedule import minimum, steep

    def finder(ctx):
        lr_min, lr_steep = ctx.learn.lr_find(suggest_funcs=(minimum, steep))
        ctx.learn.fine_tune(ctx.epochs(2), base_lr=lr_min)

    r = run(smoke_session, finder)
    assert len(r.lr_finds) == 1
    found = r.lr_finds[0]
    assert set(found.suggestions) == {"minimum", "steep"} and all(v > 0 for v in found.suggestions.values())
    assert found.num_it == smoke_session.scale.lr_find_num_it  # smoke shortens lr_find
    assert len(found.lrs) == len(found.losses) > 0
    assert [c.method for c in r.calls] == ["lr_find", "fine_tune"]
    assert r.calls[1].kwargs["base_lr"] == pytest.approx(found.suggestions["minimum"])
    assert r.calls[0].kwargs["suggest_funcs"] == ["minimum", "steep"]
    assert len(r.epochs) == 2, "lr_find's mock training is not an epoch"
    # time-to-accuracy's clock starts with the recipe: the first epoch's elapsed time includes lr_find
    first, second = r.epochs
    assert first.elapsed_s > found.wall_s + first.wall_s * 0.9 and second.elapsed_s > first.elapsed_s
    assert second.elapsed_s <= r.wall_s + 1e-6
    batches = r.n_train // r.config.batch_size  # fastai drops the last partial training batch
    assert [len(e.batch_losses) for e in r.epochs] == [batches, batches], "lr_find's batches are not kept"
    assert all(0 < loss < 20 for e in r.epochs for loss in e.batch_losses)


def test_batch_losses_are_kept_compactly():
    from recipebench.record.results import MAX_BATCH_LOSSES, compact_losses

    assert compact_losses([2.3456789, float("nan"), 1.0]) == (2.346, 1.0)
    many = compact_losses([float(i) for i in range(1000)])
    assert len(many) == MAX_BATCH_LOSSES and many[0] == 4.5 and many[-1] == 994.5  # means of runs of 10
    assert len(compact_losses(range(150))) == MAX_BATCH_LOSSES


def test_outcomes_continue_a_shared_stage_and_are_revalidated(smoke_session):
    def two_arms(ctx):
        learn = ctx.learn
        with ctx.stage("frozen_start") as start:
            learn.fit_one_cycle(1, 3e-3)
            learn.unfreeze()
        learn.save("start")
        with ctx.outcome("arm_a", after=start):
            learn.fit_one_cycle(2, slice(1e-6, 1e-4))
        learn.load("start")
        with ctx.outcome("arm_b", after=start):
            learn.fit_one_cycle(1, slice(1e-6, 1e-4))

    r = run(smoke_session, two_arms)
    assert [o.name for o in r.outcomes] == ["arm_a", "arm_b"]
    a, b = r.outcomes
    assert [e.phase for e in a.epochs] == ["frozen", "unfrozen", "unfrozen"]
    assert [e.phase for e in b.epochs] == ["frozen", "unfrozen"]
    assert [e.epoch for e in b.epochs] == [1, 2]
    assert a.epochs[0] == b.epochs[0], "both arms continue the same frozen start"
    assert b.epochs[1].error_rate == pytest.approx(b.error_rate, abs=1e-6), "re-validated weights are the last epoch's"
    assert a.wall_s > a.epochs[0].wall_s and r.wall_s >= a.wall_s
    # each outcome's clock: the shared start's time, then its own (arm_b does not count arm_a's epochs)
    assert a.epochs[0].elapsed_s == b.epochs[0].elapsed_s <= b.epochs[1].elapsed_s <= b.wall_s + 1e-6
    assert b.epochs[1].elapsed_s < r.epochs[3].elapsed_s - r.epochs[2].wall_s
    assert len(r.epochs) == 4


def test_new_learner_retrains_under_the_same_conditions(smoke_session):
    def twice(ctx):
        ctx.learn.fit_one_cycle(1, 1e-3)
        ctx.new_learner().fit_one_cycle(1, 1e-3)

    r = run(smoke_session, twice)
    assert [e.fit for e in r.epochs] == [1, 2]
    assert [e.phase for e in r.epochs] == ["frozen", "frozen"], "a fresh pretrained learner starts frozen"


def test_epoch_cap_only_at_smoke(smoke_session):
    seen = {}
    run(smoke_session, lambda ctx: seen.update(n=ctx.epochs(12)) or ctx.learn.fit(1))
    assert seen["n"] == 1


def test_jsonable_arguments():
    from fastai.callback.schedule import minimum

    assert jsonable(slice(1e-6, 1e-4)) == {"slice": [1e-6, 1e-4, None]}
    assert jsonable((minimum,)) == ["minimum"]
    assert jsonable(np.float32(0.5)) == 0.5
    assert jsonable(float("nan")) == "nan"


def test_a_run_records_the_commit_its_session_loaded_not_the_one_at_its_end(smoke_session):
    """A 40-minute run must not name a commit made while it trained: git is read at session start."""
    plan = smoke_session.plan("baseline", 0)
    assert plan.code_state is smoke_session.code_state and plan.versions is smoke_session.versions
    assert set(plan.code_state) == {"git_commit", "git_dirty"}
    then = {"git_commit": "1" * 40, "git_dirty": False}  # what the checkout was when the session began
    recipe = Recipe("probe", lambda ctx: ctx.learn.fit_one_cycle(1, 1e-3), summary="test")
    result = prepare(dataclasses.replace(plan, recipe=recipe, recipe_plugin="tests", recipe_options={},
                                         code_state=then, versions={**plan.versions, "fastai": "9.9"})).execute()
    assert (result.environment["git_commit"], result.environment["git_dirty"]) == ("1" * 40, False)
    assert result.versions["fastai"] == "9.9"  # as read at the session's start, not at the run's end
