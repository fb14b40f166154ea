"""Measurement honesty and inputs (issue 20, items 7 and 8): a retrained Learner does not keep the first one
alive, a peak-memory label says how it was measured, seeds are bounded, lr_find takes positional num_it."""
from __future__ import annotations

import dataclasses
import gc
import weakref

import pytest

from recipebench import Recipe
from recipebench.train import measure
from recipebench.train.measure import PeakMemory
from recipebench.suite.options import UsageError, parse_seeds
from recipebench.record.results import validate
from recipebench.train.runner import prepare


def run(session, train, seed=0):
    recipe = Recipe("probe", train, summary="test")
    plan = dataclasses.replace(session.plan("baseline", 0), recipe=recipe, recipe_plugin="tests",
                               recipe_options={}, seed=seed)
    result = prepare(plan).execute()
    validate(result.to_dict())
    return result


def test_new_learner_releases_the_first_learner(smoke_session):
    """The first Learner's model (and with it its gradients and optimiser state) is gone once the recipe
    asks for a fresh one, so the run's peak memory does not hold both."""
    seen = {}

    def retrain(ctx):
        ctx.learn.fit_one_cycle(1, 1e-3)
        first = weakref.ref(ctx.learn.model)
        first_learner = weakref.ref(ctx.learn)
        ctx.new_learner()
        gc.collect()
        seen.update(model=first() is not None, learner=first_learner() is not None)
        ctx.learn.fit_one_cycle(1, 1e-3)

    r = run(smoke_session, retrain)
    assert r.ok, r.error
    assert seen == {"model": False, "learner": False}
    assert [e.fit for e in r.epochs] == [1, 2]


def test_peak_rss_label_says_it_was_not_reset_when_it_could_not_be(monkeypatch):
    """VmHWM not resettable and no sampler (no psutil): the peak is the process's since it started,
    and the label says so rather than "reset at start"."""
    def no_sampler(*args, **kwargs):
        raise ImportError("No module named 'psutil'")

    monkeypatch.setattr(measure, "_reset_rss_peak", lambda: False)
    monkeypatch.setattr(measure, "_RssSampler", no_sampler)
    with PeakMemory("cpu") as meter:
        pass
    assert "reset at start" not in meter.method
    assert "not reset" in meter.method and "since the process started" in meter.method
    assert meter.peak_rss_bytes is None or meter.peak_rss_bytes > 0


def test_peak_rss_label_when_reset_works_says_reset(monkeypatch):
    monkeypatch.setattr(measure, "_reset_rss_peak", lambda: True)
    with PeakMemory("cpu") as meter:
        pass
    assert meter.method == "process peak RSS (VmHWM, reset at start)"


def test_seeds_are_bounded_to_what_every_generator_takes():
    from recipebench.suite.options import MAX_SEED

    assert MAX_SEED == 2**32 - 2
    assert parse_seeds(f"0,{MAX_SEED}") == (0, MAX_SEED)
    for bad in ("18446744073709551616", f"0,{MAX_SEED + 1}", "-1,2"):
        with pytest.raises(UsageError, match=f"--seeds '{bad}': seeds are whole numbers from 0 to {MAX_SEED}"):
            parse_seeds(bad)
    with pytest.raises(UsageError, match=f"from 0 to {MAX_SEED}"):
        parse_seeds(str(MAX_SEED + 2))  # a count: seeds 0..count-1


def test_the_largest_seed_trains(smoke_session):
    """The bound is one the harness honours: a run with the largest seed trains and validates."""
    from recipebench.suite.options import MAX_SEED

    def short(ctx):
        ctx.learn.fit(1, 1e-3)

    r = run(smoke_session, short, seed=MAX_SEED)
    assert r.ok and r.seed == MAX_SEED, r.error


def test_lr_find_with_positional_num_it_runs_and_is_recorded_as_called(smoke_session):
    def finder(ctx):
        ctx.learn.lr_find(1e-7, 10, 8)  # start_lr, end_lr, num_it: positional, as fastai allows

    r = run(smoke_session, finder)
    assert r.ok, r.error
    assert [(c.method, c.args, c.kwargs) for c in r.calls] == [("lr_find", (1e-7, 10, 8), {})]
    assert r.lr_finds[0].num_it == 8, "the recipe's num_it, not the scale's (12 at smoke)"
    assert 0 < len(r.lr_finds[0].lrs) <= 8
