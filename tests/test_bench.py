"""The benchmark suite end to end, as a user runs it: `pytest recipes/ --benchmark-only ...`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from recipebench.record.results import validate
from recipebench.record.store import load_results
from tests.conftest import REPO, subprocess_env


def chapter(registry) -> list[str]:
    """The default suite's recipes: the pet-breeds chapter's (not --suite next_chapter's)."""
    return sorted(n for n, r in registry.recipes.items() if r.item.suite == "chapter")


def bench(args, cache_dir, cwd=REPO, check=True):
    proc = subprocess.run([sys.executable, "-m", "pytest", "recipes/", "-p", "no:cacheprovider", *args],
                          cwd=cwd, capture_output=True, text=True, env=subprocess_env(cache_dir), timeout=600)
    if check and proc.returncode != 0:
        pytest.fail(f"benchmark suite failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return proc


@pytest.fixture(scope="module")
def smoke_run(cache_dir, tmp_path_factory, smoke_session):
    """The whole suite at smoke scale (every built-in recipe), saving pytest-benchmark's own files too.

    ``--cpu-bf16 always``: this session is about every recipe's row, document and benchmark entry, on any CPU;
    at smoke scale the bf16 row costs seconds even where bfloat16 convolutions are slow (AVX2-only CPUs).
    What ``auto`` does on such a CPU is tested on its own, with the capability faked
    (tests/test_default_run.py)."""
    out = tmp_path_factory.mktemp("bench")
    proc = bench(["--benchmark-only", "--scale", "smoke", "--cpu-bf16", "always", "--results-dir", str(out / "results"),
                  "--benchmark-json", str(out / "bench.json"), "--benchmark-storage", str(out / "storage"),
                  "--benchmark-save", "smoke"], cache_dir)
    return proc, out


def test_suite_passes_and_prints_both_tables(smoke_run):
    proc, _ = smoke_run
    assert "= recipebench =" in proc.stdout  # ours
    assert "recipe " in proc.stdout and "error_rate" in proc.stdout and "best (epoch)" in proc.stdout
    assert "benchmark: " in proc.stdout and "test_recipe[baseline-seed0]" in proc.stdout  # pytest-benchmark's
    for row in ("baseline ", "lr_find_tuned ", "freeze_unfreeze ", "discriminative_lr ", "resnet50_fp32 ",
                "early_stopping_contrast > keep_best ", "early_stopping_contrast > retrain_k "):
        assert row in proc.stdout
    assert "resnet50_mixed_precision" in proc.stdout and " bf16 " in proc.stdout
    # the live progress, as CI logs show it: the plan, then a plain line per epoch and per finished case
    assert "recipebench: 7 case(s) to train on cpu" in proc.stdout
    assert "baseline s0 · frozen 1/1 · loss " in proc.stdout and "baseline s0 · ok · error " in proc.stdout
    assert "early_stopping_contrast s0 · keep_best unfrozen 1/1" in proc.stdout


def test_every_run_wrote_a_valid_document(smoke_run, registry):
    _, out = smoke_run
    sessions = list((out / "results").iterdir())
    assert len(sessions) == 1
    files = sorted(p.name for p in sessions[0].glob("*.json"))
    assert files == sorted(f"{name}-seed0.json" for name in chapter(registry))
    for f in sessions[0].glob("*.json"):
        validate(json.loads(f.read_text()))
    assert (sessions[0] / "summary.md").read_text().startswith("| recipe")
    assert (sessions[0] / "epochs.png").stat().st_size > 1000


def test_benchmark_json_carries_the_results(smoke_run, registry):
    _, out = smoke_run
    doc = json.loads((out / "bench.json").read_text())
    infos = {b["extra_info"]["recipe"]: b["extra_info"] for b in doc["benchmarks"]}
    assert set(infos) == set(chapter(registry))
    assert all(0 <= i["error_rate"] <= 1 and i["wall_s"] > 0 for i in infos.values())
    assert infos["resnet50_mixed_precision"]["precision"] == "bf16"
    assert sorted(r.recipe for r in load_results([out / "bench.json"])) == chapter(registry)


def test_pytest_benchmark_times_what_wall_s_measures(smoke_run):
    """pytest-benchmark's time of a case is the result's wall_s: the recipe's stopwatch, without the memory
    meter's set-up and the outcome saves (early_stopping_contrast has two) that its own timer would include."""
    _, out = smoke_run
    doc = json.loads((out / "bench.json").read_text())
    for b in doc["benchmarks"]:
        wall = b["extra_info"]["wall_s"]
        assert wall > 0 and b["stats"]["rounds"] == 1, b["name"]
        assert b["stats"]["min"] == b["stats"]["max"] == b["stats"]["mean"] == wall, (b["name"], b["stats"], wall)


def test_pytest_benchmark_compare_shows_the_saved_run(smoke_run):
    _, out = smoke_run
    cli = Path(sys.executable).with_name("pytest-benchmark")  # the console script, as a user runs it
    proc = subprocess.run([str(cli), "--storage", str(out / "storage"), "compare"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "test_recipe[baseline-seed0]" in proc.stdout and "test_recipe[early_stopping_contrast-seed0]" in proc.stdout
    listed = subprocess.run([str(cli), "--storage", str(out / "storage"), "list"], capture_output=True, text=True)
    assert "0001_smoke.json" in listed.stdout


@pytest.mark.parametrize("args, message", [
    (["--scale", "huge"], "--scale 'huge': choose one of smoke, quick, full"),
    (["--recipe", "nope"], "unknown recipe 'nope'; registered recipes: baseline, lr_find_tuned"),
    (["--workload", "nope"], "unknown workload 'nope'"),
    (["--device", "tpu"], "--device 'tpu': choose one of auto, cpu, cuda"),
    (["--seeds", "0,0"], "--seeds '0,0': seeds must be distinct"),
    (["--seeds", "x"], "--seeds 'x': give a count"),
    (["--seeds", "18446744073709551616"], "--seeds '18446744073709551616': seeds are whole numbers from 0 to 4294967294"),
    (["--seeds", "0,4294967295"], "--seeds '0,4294967295': seeds are whole numbers from 0 to 4294967294"),
    (["--recipe-option", "baseline.lr=1"], "recipe 'baseline' has no option 'lr'"),
    (["--recipe-option", "lr_find_tuned.suggestion=valley"], "choose one of minimum, steep"),
    (["--recipe-option", "basline.epochs=2"],
     "--recipe-option basline.epochs=2: unknown recipe 'basline'; registered recipes: baseline, lr_find_tuned"),
    (["--recipe", "baseline", "--recipe-option", "lr_find_tuned.sugestion=steep"],
     "recipe 'lr_find_tuned' has no option 'sugestion'"),  # a recipe not run this time is checked too
    (["--plugins-dir", "/nonexistent"], "--plugins-dir /nonexistent: not a directory"),
    (["--label-re", "no group"], "needs exactly one group"),
    (["--split", "sideways"], "--split 'sideways': choose auto, random, folders or folders:NAME"),
    (["--labels", "grand"], "--labels 'grand': choose one of top, parent"),
    (["--reference", "basline"], "--reference basline: unknown recipe 'basline'; registered recipes: baseline"),
    (["--target-error", "40%"], "--target-error '40%': an error rate between 0 and 1"),
])
def test_bad_options_are_usage_errors(args, message, cache_dir):
    proc = bench(["--benchmark-only", *args], cache_dir, check=False)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cuda_without_cuda_is_a_usage_error(cache_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = bench(["--benchmark-only", "--device", "cuda"], cache_dir, check=False)
    assert proc.returncode == 4 and "--device cuda: torch sees no CUDA device" in proc.stderr


def test_cases_carry_markers_for_selection(cache_dir):
    proc = bench(["--collect-only", "-q", "--scale", "smoke", "-m", "not mixed_precision"], cache_dir)
    assert "test_recipe[baseline-seed0]" in proc.stdout and "test_recipe[resnet50_fp32-seed0]" in proc.stdout
    assert "resnet50_mixed_precision" not in proc.stdout
    deep = bench(["--collect-only", "-q", "--scale", "smoke", "-m", "deep"], cache_dir).stdout
    assert "resnet50_mixed_precision-seed0" in deep and "resnet50_fp32-seed0" in deep and "baseline" not in deep
    nxt = bench(["--collect-only", "-q", "--scale", "smoke", "--suite", "all", "-m", "next_chapter"], cache_dir).stdout
    assert "xresnet_from_scratch-seed0" in nxt and "baseline" not in nxt


def test_the_next_chapter_runs_only_when_asked_for(cache_dir):
    default = bench(["--collect-only", "-q", "--scale", "smoke"], cache_dir).stdout
    assert "test_recipe[baseline-seed0]" in default and "xresnet_from_scratch" not in default
    chosen = bench(["--collect-only", "-q", "--scale", "smoke", "--suite", "next_chapter"], cache_dir).stdout
    assert "test_recipe[xresnet_from_scratch-seed0]" in chosen and "baseline" not in chosen
    for name in ("label_smoothing", "mixup", "progressive_resizing"):
        assert f"test_recipe[{name}-seed0]" in chosen and name not in default


def test_the_readme_plugin_example_runs_as_written(cache_dir, tmp_path, smoke_session):
    """The README's recipe plugin, copied into a file, runs with --plugins-dir as the README says."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("```python\n# my_recipes.py\n", 1)[1].split("```", 1)[0]
    (tmp_path / "my_recipes.py").write_text(block)
    proc = bench(["--benchmark-only", "--scale", "smoke", "--plugins-dir", str(tmp_path), "--recipe", "long_head",
                  "--results-dir", str(tmp_path / "results")], cache_dir)
    (result,) = load_results([tmp_path / "results"])
    assert result.recipe == "long_head" and result.ok and result.recipe_plugin == str(tmp_path / "my_recipes.py")
    assert [c.method for c in result.calls] == ["fit_one_cycle", "unfreeze", "fit_one_cycle"]
    assert "long_head " in proc.stdout
