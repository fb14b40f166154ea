"""Shared fixtures. Tests train only at the smoke scale, in a cache made once per test session."""
from __future__ import annotations

import os
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
    from recipebench.registry import load_registry

    return load_registry()


@pytest.fixture(scope="session")
def smoke_session(cache_dir, tmp_path_factory):
    """A BenchSession on the synthetic workload at smoke scale, CPU, its data and weights ready."""
    from recipebench.suite.options import Options
    from recipebench.suite.session import BenchSession

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


def offline_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a benchmark subprocess with no network (a proxy that cannot resolve) and an empty
    fastai cache under ``tmp_path``."""
    env = subprocess_env(tmp_path / "cache")
    env["FASTAI_HOME"] = str(tmp_path / "fastai-home")
    for key in ("no_proxy", "NO_PROXY"):
        env.pop(key, None)
    for key in ("https_proxy", "HTTPS_PROXY"):  # a proxy that cannot resolve: as offline as it gets
        env[key] = "http://recipebench-offline.invalid:9"
    return env
