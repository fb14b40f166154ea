"""The benchmark suite's pytest plugin: options, one test per recipe x seed, and the final table.

``recipes/conftest.py`` imports these hooks, so they apply to ``pytest recipes/ ...`` only.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from recipebench import render
from recipebench.options import OPTION_TABLE, REPEATABLE, UsageError, from_values
from recipebench.registry import PluginError
from recipebench.session import BenchSession, WorkloadError
from recipebench.store import EXTRA_INFO_KEY

SESSION_KEY = pytest.StashKey[BenchSession]()
_DEST_PREFIX = "recipebench_"
#: Markers every case gets from its recipe, so `-m "not mixed_precision"` or `-m deep` select cases.
MARKERS = {
    "mixed_precision": "the recipe asks for mixed precision (fp16 on CUDA, bf16 on CPU -- slow on CPUs "
                       "without native bfloat16 kernels)",
    "deep": "the recipe trains the workload's deeper architecture",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("recipebench", "recipebench benchmark suite")
    for flag, dest, help_text, _parse, _default in OPTION_TABLE:
        if dest in REPEATABLE:
            group.addoption(flag, dest=_DEST_PREFIX + dest, action="append", default=None, help=help_text)
        else:
            group.addoption(flag, dest=_DEST_PREFIX + dest, default=None, help=help_text)


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    values = {dest: config.getoption(_DEST_PREFIX + dest) for _f, dest, *_ in OPTION_TABLE}
    try:
        config.stash[SESSION_KEY] = BenchSession(from_values(values))
    except (UsageError, PluginError) as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "recipe_case" in metafunc.fixturenames:
        session = metafunc.config.stash[SESSION_KEY]
        params = []
        for name, seed in session.cases():
            recipe = session.registry.recipe(name)
            marks = [pytest.mark.mixed_precision] if recipe.precision == "mixed" else []
            marks += [pytest.mark.deep] if recipe.arch_role == "deep" else []
            params.append(pytest.param((name, seed), marks=marks, id=f"{name}-seed{seed}"))
        metafunc.parametrize("recipe_case", params)


@pytest.fixture
def bench_session(request: pytest.FixtureRequest) -> BenchSession:
    """The session: workload, scale, device, seeds and the results gathered so far."""
    return request.config.stash[SESSION_KEY]


@pytest.fixture
def recipe_run(bench_session: BenchSession, recipe_case):
    """The run for this test's recipe x seed, prepared (data, weights, Learner) but not yet trained."""
    recipe, seed = recipe_case
    try:
        return bench_session.prepare(recipe, seed)
    except (WorkloadError, UsageError) as exc:
        pytest.exit(f"recipebench: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)


def extra_info(result, path: Path) -> dict:
    """What pytest-benchmark stores with the benchmark: headline figures and the whole document."""
    return {
        "recipe": result.recipe, "seed": result.seed, "status": result.status, "error_rate": result.error_rate,
        "best_error_rate": result.best_error_rate, "best_epoch": result.best_epoch, "wall_s": result.wall_s,
        "samples_per_s": result.samples_per_s, "peak_memory_bytes": result.peak_memory_bytes,
        "precision": result.precision, "device": result.device, "result_file": str(path),
        EXTRA_INFO_KEY: result.to_dict(),
    }


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None or not session.results:
        return
    report = render.session_report(session.results)
    folder = session.results_dir
    (folder / "summary.md").write_text(
        render.session_report(session.results, fmt="markdown") + "\n"
    )
    try:
        render.plot_epochs(session.results, folder / "epochs.png")
    except Exception as exc:  # a plot must never cost the user the table
        terminalreporter.write_line(f"(plot not written: {exc})")
    terminalreporter.section("recipebench")
    for line in report.splitlines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"results: {folder} ({len(session.result_paths)} runs, summary.md, epochs.png)")
