"""Shared fixtures. Tests train only at the smoke scale, in a cache made once per test session."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Real data beside the checkout (CI clones the repo as <x>/main with <x>/shared beside it); a worktree
#: elsewhere names it with $RECIPEBENCH_SHARED. Tests that need it skip cleanly when it is absent.
SHARED = Path(os.environ.get("RECIPEBENCH_SHARED") or REPO.parent / "shared")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """A cache for generated data and pretrained weights, shared by every test of the session."""
    path = tmp_path_factory.mktemp("recipebench-cache")
    return path


@pytest.fixture(scope="session")
def registry():
    from harness.plugins import load_registry

    return load_registry()


@pytest.fixture(scope="session")
def smoke_session(cache_dir, tmp_path_factory):
    """A BenchSession on the synthetic workload at smoke scale, CPU, its data and weights ready."""
    from harness.options import Options
    from harness.session import BenchSession

    session = BenchSession(Options(scale="smoke", device="cpu", cache_dir=cache_dir,
                                   results_dir=tmp_path_factory.mktemp("results")))
    session.weights_for(session.arch_for(session.registry.recipe("baseline")))
    return session


@pytest.fixture(scope="session")
def baseline_result(smoke_session):
    """One real (smoke-scale) run of the baseline recipe."""
    run = smoke_session.prepare("baseline", 0)
    return run.execute()


def subprocess_env(cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["RECIPEBENCH_CACHE"] = str(cache_dir)
    env.pop("PYTEST_ADDOPTS", None)
    return env


def bench(args, cache_dir, cwd=REPO, check=True):
    """Run the benchmark suite (`pytest recipes/ ...`) in a subprocess, as a user does."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "recipes/", "-p", "no:cacheprovider", *args],
                          cwd=cwd, capture_output=True, text=True, env=subprocess_env(cache_dir), timeout=600)
    if check and proc.returncode != 0:
        pytest.fail(f"benchmark suite failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return proc


@pytest.fixture(scope="session")
def smoke_run(cache_dir, tmp_path_factory, smoke_session):
    """The suite at smoke scale with two seeds, saving pytest-benchmark's own files too."""
    out = tmp_path_factory.mktemp("bench")
    proc = bench(["--benchmark-only", "--scale", "smoke", "--seeds", "2", "--results-dir", str(out / "results"),
                  "--benchmark-json", str(out / "bench.json"), "--benchmark-storage", str(out / "storage"),
                  "--benchmark-save", "smoke"], cache_dir)
    return proc, out


def make_result(recipe: str = "baseline", seed: int = 0, error_rate: float | None = 0.1, wall_s: float = 20.0,
                memory_bytes: int | None = 1_200_000_000, outcomes=(), status: str = "ok", **changes):
    """A schema-valid RunResult with these figures, for tests about arithmetic (no training).

    ``outcomes``: (name, error_rate, wall_s) triples; ``changes``: any other RunResult field.
    """
    from harness.results import SCHEMA_VERSION, Config, Outcome, RunResult, WeightsInfo

    scale = changes.pop("scale", "quick")
    fields = dict(
        schema_version=SCHEMA_VERSION, run_id=f"test/{recipe}-seed{seed}", session_id="test",
        created_utc="2026-01-01T00:00:00Z", status=status, error=None if status == "ok" else "Traceback: boom",
        recipe=recipe, recipe_plugin="tests", recipe_options={}, workload="synthetic", workload_fingerprint="f" * 64,
        scale=scale, seed=seed, device="cpu", device_name="Test CPU (2 threads)", precision="fp32",
        precision_requested="fp32", weights=WeightsInfo("synthetic-source", "resnet18", None, None),
        config=Config("resnet18", 96, 64, 32, scale, 0, None, None, 0.2, 42), n_classes=12, n_train=480,
        n_valid=120, error_rate=error_rate if status == "ok" else None,
        best_error_rate=error_rate if status == "ok" else None, best_epoch=1 if status == "ok" else None,
        wall_s=wall_s, samples_per_s=4800 / wall_s, peak_memory_bytes=memory_bytes,
        peak_memory_method="process peak RSS", peak_rss_bytes=memory_bytes, cuda_max_allocated_bytes=None,
        cuda_max_reserved_bytes=None, epochs=(),
        outcomes=tuple(Outcome(name, er, er, 1, w, 2400 / w, ()) for name, er, w in outcomes),
        lr_finds=(), calls=(), most_confused=(),
        versions={"python": "3.11.7", "torch": "2.14.1", "torchvision": "0.29.1", "fastai": "2.8.12", "cuda": None,
                  "recipebench": "0.1.0"},
        environment={"git_commit": "0" * 40, "git_dirty": False, "host": "testhost", "cpu": "Test CPU"},
    )
    fields.update(changes)
    return RunResult(**fields)
