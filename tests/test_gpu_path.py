"""The GPU path, tested without a GPU: workers, clean CUDA peak memory, warm-up, autocast, cuDNN flags.

Where only CUDA would show it, ``torch.cuda`` is replaced by a fake that records the calls made on it.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch

from recipebench import Recipe
from recipebench.data import datablock as data
from recipebench.train import measure as measure_mod
from recipebench.suite import setup_checks
from recipebench.record.environment import resolve_device
from recipebench.train.measure import PeakMemory
from recipebench.plugins import folder, pets, synthetic
from recipebench.train.runner import prepare


@pytest.fixture
def fake_cuda(monkeypatch):
    """``torch.cuda`` as a GPU machine would answer, recording each call (and gc.collect) in order."""
    calls: list[str] = []

    def record(name, value=None):
        def call(*args, **kwargs):
            calls.append(name)
            return value
        return call

    for name, value in (("empty_cache", None), ("synchronize", None), ("reset_peak_memory_stats", None),
                        ("max_memory_allocated", 3 * 2**30), ("max_memory_reserved", 4 * 2**30),
                        ("is_available", True), ("current_device", 0)):
        monkeypatch.setattr(torch.cuda, name, record(name, value))
    monkeypatch.setattr(measure_mod.gc, "collect", record("gc.collect", 0))
    return calls


# -- 1, 2: data loading and the worker count recorded ----------------------------------------------


@pytest.mark.parametrize("workload", [synthetic, pets, folder])
def test_full_scale_uses_fastais_default_workers_and_a_cpu_quick_run_the_main_process(workload):
    full, quick, smoke = (workload.SCALES[s] for s in ("full", "quick", "smoke"))
    assert full.workers(on_cuda=True) is None and full.workers(on_cuda=False) is None  # fastai's default
    assert quick.workers(on_cuda=True) is None and smoke.workers(on_cuda=True) is None  # a GPU must not wait
    assert quick.workers(on_cuda=False) == 0 and smoke.workers(on_cuda=False) == 0  # CPU cores train


def test_the_recorded_worker_count_is_the_real_one(smoke_session, baseline_result):
    from fastai.torch_core import defaults

    assert baseline_result.config.num_workers == 0
    default = dataclasses.replace(smoke_session.scale, cpu_num_workers=None)  # fastai's default, as at full
    dls = data.dataloaders(smoke_session.data(), default, torch.device("cpu"))
    assert dls.train.num_workers == 1  # what fastai's own attribute says, whatever the workers
    assert data.worker_count(dls) == min(16, defaults.cpus) > 0


def test_peak_memory_says_when_workers_are_not_counted(smoke_session):
    recipe = Recipe("probe", lambda ctx: ctx.learn.fit_one_cycle(1, 1e-3), summary="test")
    plan = dataclasses.replace(smoke_session.plan("baseline", 0), recipe=recipe, recipe_plugin="tests",
                               recipe_options={}, scale=dataclasses.replace(smoke_session.scale, cpu_num_workers=1))
    result = prepare(plan).execute()
    assert result.config.num_workers == 1
    assert "main process only: 1 DataLoader worker processes not counted" in result.peak_memory_method


# -- 3: CUDA peak memory starts clean --------------------------------------------------------------


def test_cuda_peaks_are_reset_only_after_collecting_emptying_and_synchronizing(fake_cuda):
    with PeakMemory(torch.device("cuda", 0)) as memory:
        assert fake_cuda == ["gc.collect", "empty_cache", "synchronize", "reset_peak_memory_stats"]
    assert fake_cuda[4:] == ["synchronize", "max_memory_allocated", "max_memory_reserved"]
    assert memory.peak_bytes == memory.cuda_max_allocated_bytes == 3 * 2**30
    assert memory.cuda_max_reserved_bytes == 4 * 2**30


def test_cuda_device_carries_its_index(fake_cuda):
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda").index == 0


# -- 4: warm-up, once, untimed ---------------------------------------------------------------------


def test_the_session_warms_up_once_per_arch_and_precision_before_any_case(smoke_session, monkeypatch):
    seen = []
    monkeypatch.setattr(setup_checks, "warm_up",
                        lambda device, models, bs, size: seen.append([p for _, p in models]) or 0.5)
    monkeypatch.setattr(smoke_session.inputs, "warm_up_s", None)
    smoke_session.check_setup(["baseline", "resnet50_fp32", "resnet50_mixed_precision", "lr_find_tuned"])
    smoke_session.check_setup(["baseline"])
    assert seen == [["fp32", "fp32", "mixed"]]  # resnet18 fp32, resnet50 fp32 and mixed; once
    assert smoke_session.warm_up_s == 0.5


def test_warm_up_runs_each_model_forward_and_backward():
    built = []

    def build():
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        built.append(model)
        return model

    seconds = measure_mod.warm_up(torch.device("cpu"), [(build, "fp32"), (build, "mixed")], batch_size=2,
                                  image_size=8)
    assert seconds > 0 and len(built) == 2
    assert all(p.grad is not None for m in built for p in m.parameters())


# -- 5: autocast never outlives a run ---------------------------------------------------------------


def test_a_mixed_precision_run_that_raises_mid_batch_leaves_no_autocast_behind(smoke_session):
    from fastai.callback.core import Callback

    class Boom(Callback):
        order = 50  # after the bf16 autocast has been entered for the batch, before it is left

        def after_pred(self):
            raise RuntimeError("boom mid-batch")

    def raising(ctx):
        ctx.learn.fit_one_cycle(1, 1e-3, cbs=Boom())

    def run(train, precision):
        recipe = Recipe("probe", train, summary="test", precision=precision)
        return prepare(dataclasses.replace(smoke_session.plan("baseline", 0), recipe=recipe, recipe_plugin="tests",
                                           recipe_options={})).execute()

    failed = run(raising, "mixed")
    assert failed.status == "error" and "boom mid-batch" in failed.error
    assert not torch.is_autocast_enabled("cpu")
    after = run(lambda ctx: ctx.learn.fit_one_cycle(1, 1e-3), "fp32")
    assert after.ok and after.precision == "fp32"


# -- 6: cuDNN flags, as the chapter had them unless asked ------------------------------------------


def test_cudnn_flags_are_the_chapters_unless_deterministic_is_asked(smoke_session, baseline_result):
    env = baseline_result.environment
    assert (env["cudnn_deterministic"], env["cudnn_benchmark"], env["deterministic_algorithms"]) == (False, False, False)
    assert "cuda" in baseline_result.versions and "cudnn" in baseline_result.versions
    assert "device_index" in env
    recipe = Recipe("probe", lambda ctx: ctx.learn.fit_one_cycle(1, 1e-3), summary="test")
    plan = dataclasses.replace(smoke_session.plan("baseline", 0), recipe=recipe, recipe_plugin="tests",
                               recipe_options={}, deterministic=True)
    try:
        strict = prepare(plan).execute()
    finally:
        torch.use_deterministic_algorithms(False)
    assert (strict.environment["cudnn_deterministic"], strict.environment["deterministic_algorithms"]) == (True, True)
    # the next ordinary run sets the flags back: none inherits them
    assert prepare(dataclasses.replace(plan, deterministic=False)).execute().environment["cudnn_deterministic"] is False
