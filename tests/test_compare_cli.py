"""`recipebench compare` and `recipebench matrix` on a real smoke-scale result set, as a user runs them."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from recipebench.record import store
from recipebench.suite.recording import extra_info
from recipebench.record.results import RunResult
from tests.conftest import REPO
from tests.test_report import run_cli



@pytest.fixture(scope="module")
def smoke_results(smoke_session, baseline_result, tmp_path_factory) -> Path:
    """A real result set: the baseline recipe trained at smoke scale with seeds 0 and 1, as one session folder."""
    folder = tmp_path_factory.mktemp("smoke-results") / smoke_session.session_id
    for result in (baseline_result, smoke_session.prepare("baseline", 1).execute()):
        store.write_result(result, folder)
    return folder.parent


@pytest.fixture(scope="module")
def benchmark_json(smoke_results, tmp_path_factory) -> Path:
    """The same results as pytest-benchmark saves them (``--benchmark-json``): in each benchmark's extra_info."""
    results = store.load_results([smoke_results])
    doc = {"machine_info": {}, "commit_info": {}, "benchmarks": [
        {"name": f"test_recipe[{r.recipe}-seed{r.seed}]", "stats": {}, "extra_info": extra_info(r, Path("x.json"))}
        for r in results]}
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    path.write_text(json.dumps(doc))
    return path


def changed_copy(folder: Path, target: Path, **change) -> Path:
    """Every result in ``folder`` rewritten by ``change[field](result)``, into ``target``."""
    for result in store.load_results([folder]):
        store.write_result(dataclasses.replace(result, **{k: f(result) for k, f in change.items()}), target)
    return target


def slower(folder: Path, target: Path, factor: Callable[[RunResult], float], extra_errors: int = 0) -> Path:
    """The set with wall times multiplied by ``factor(result)`` and ``extra_errors`` more validation images wrong."""
    return changed_copy(
        folder, target,
        wall_s=lambda r: r.wall_s * factor(r), samples_per_s=lambda r: r.samples_per_s / factor(r),
        error_rate=lambda r: min(1.0, r.error_rate + extra_errors / r.n_valid),
        final_metrics=lambda r: {**r.final_metrics,
                                 "error_rate": min(1.0, r.final_metrics["error_rate"] + extra_errors / r.n_valid)},
        outcomes=lambda r: tuple(dataclasses.replace(o, wall_s=o.wall_s * factor(r)) for o in r.outcomes))


def tripled(result: RunResult) -> float:
    return 3.0


FAIL_ON = ("--fail-on", "wall:+10%", "--fail-on", "error_rate:+0.5pp")


def test_tripled_wall_time_and_raised_error_rate_fail_naming_the_recipe(smoke_results, tmp_path, capsys):
    new = slower(smoke_results, tmp_path / "new", tripled, extra_errors=2)
    code, out, err = run_cli(capsys, "compare", smoke_results, new, *FAIL_ON)
    assert code == 1, err
    assert "recipebench: regression: baseline: wall +200% is past wall:+10%" in err
    assert "| baseline " in out and "worse: " in out


def test_a_a_passes(smoke_results, tmp_path, capsys):
    code, out, err = run_cli(capsys, "compare", smoke_results, smoke_results, *FAIL_ON)
    assert (code, err) == (0, "") and "within noise" in out
    # the same runs again with a few % of timing noise, nothing else
    jittered = slower(smoke_results, tmp_path / "jitter", lambda r: (1.04, 0.97)[r.seed % 2])
    code, out, err = run_cli(capsys, "compare", smoke_results, jittered, *FAIL_ON, "--fail-on", "memory:+10%")
    assert (code, err) == (0, "") and out.splitlines()[2].endswith("| within noise |")


def test_markdown_from_a_pytest_benchmark_file_is_ready_to_paste(smoke_results, benchmark_json, capsys):
    code, out, _ = run_cli(capsys, "compare", benchmark_json, smoke_results)
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("| recipe ") and lines[1].startswith("|---") and lines[2].startswith("| baseline ")
    assert "2 → 2 paired" in lines[2] and "- p: two-sided t-test across seeds: Welch's" in out
    code, text, _ = run_cli(capsys, "compare", smoke_results, smoke_results, "--format", "text")
    assert text.splitlines()[1].startswith("----")
    code, csv_text, _ = run_cli(capsys, "compare", smoke_results, smoke_results, "--format", "csv")
    assert csv_text.splitlines()[0].startswith("label,n_base,n_new")


def test_matrix_over_two_torch_versions(smoke_results, tmp_path, capsys):
    older = changed_copy(smoke_results, tmp_path / "torch2.9", versions=lambda r: {**r.versions, "torch": "2.9.1"})
    code, out, err = run_cli(capsys, "matrix", smoke_results, older, "--by", "torch", "--format", "text")
    assert code == 0, err
    header = out.splitlines()[0]
    assert header.index("torch 2.9.1: error_rate") < header.index("torch 2.14") and "wall s" in header
    assert out.splitlines()[2].startswith("baseline ") and "(n=2)" in out


@pytest.mark.parametrize("args, message", [
    (["--fail-on", "wall:10"], "argument --fail-on: 'wall:10': wall takes an amount in percent (%)"),
    (["--fail-on", "throughput:+5%"], "throughput regresses when it falls; write throughput:-10%"),
    (["--alpha", "2"], "argument --alpha: '2': a significance level between 0 and 1"),
    (["--min-effect", "speed:1%"], "unknown metric 'speed'"),
    (["--format", "html"], "argument --format: invalid choice: 'html'"),
])
def test_bad_arguments_are_usage_errors(args, message, smoke_results, capsys):
    code, out, err = run_cli(capsys, "compare", smoke_results, smoke_results, *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_incomparable_sets_are_refused_unless_forced(smoke_results, tmp_path, capsys):
    quick = changed_copy(smoke_results, tmp_path / "quick", scale=lambda r: "quick",
                         config=lambda r: dataclasses.replace(r.config, scale="quick"))
    code, _, err = run_cli(capsys, "compare", smoke_results, quick)
    assert code == 2 and "differ in scale" in err and "--force" in err
    code, out, _ = run_cli(capsys, "compare", smoke_results, quick, "--force", "--format", "text")
    assert code == 0 and "forced: base" in out
    code, _, err = run_cli(capsys, "compare", smoke_results, tmp_path / "nope")
    assert code == 2 and "nope: no such file or folder" in err
    code, _, err = run_cli(capsys, "matrix", smoke_results, "--by", "tourch")
    assert code == 2 and "--by 'tourch': not a recorded field" in err


def test_the_console_command_exits_with_the_verdict(smoke_results, tmp_path):
    new = slower(smoke_results, tmp_path / "new", tripled)
    command = [sys.executable, "-m", "recipebench", "compare", str(smoke_results), str(new), "--fail-on", "wall:+10%"]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 1 and "baseline: wall +200%" in proc.stderr and "Traceback" not in proc.stderr
    bad = subprocess.run(command[:-1] + ["wall:ten"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert bad.returncode == 2 and "usage: recipebench compare" in bad.stderr and "Traceback" not in bad.stderr
