"""The default run respects the user's time: bf16 by what the CPU can do, live progress, resume."""
from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import time

import pytest

from recipebench.suite.progress import LiveProgress, PlannedCase, SuiteClock, duration
from recipebench.render.session_table import session_report
from recipebench.record.results import EpochRecord, SkippedCase
from recipebench.suite.planning import NO_NATIVE_BF16
from recipebench.record.store import load_results
from tests.conftest import REPO, subprocess_env
from tests.test_bench import bench

# -- 1. mixed precision by what the CPU can do ---------------------------------------------------------


def test_a_cpu_without_native_bf16_skips_mixed_precision_with_its_reason(smoke_session, monkeypatch):
    mixed, fp32 = (smoke_session.registry.recipe(n) for n in ("resnet50_mixed_precision", "resnet50_fp32"))
    monkeypatch.setattr(smoke_session, "bf16", {**smoke_session.bf16, "native": False})
    assert smoke_session.skip_reason(mixed) == NO_NATIVE_BF16 and smoke_session.skip_reason(fp32) is None
    monkeypatch.setattr(smoke_session, "bf16", {**smoke_session.bf16, "native": True})
    assert smoke_session.skip_reason(mixed) is None
    for choice, reason in (("always", None), ("never", "skipped: --cpu-bf16 never")):
        options = dataclasses.replace(smoke_session.options, cpu_bf16=choice)  # held by the session's selection
        monkeypatch.setattr(smoke_session, "selection", dataclasses.replace(smoke_session.selection, options=options))
        assert (smoke_session.skip_reason(mixed) or "").startswith(reason or "")
        assert (smoke_session.skip_reason(mixed) is None) == (reason is None)


def test_the_table_shows_a_skipped_recipe_as_a_row_and_its_reason_under_the_table(baseline_result):
    report = session_report([baseline_result], skipped=[SkippedCase("resnet50_mixed_precision", 0, NO_NATIVE_BF16)])
    table, _, below = report.partition("\n\n")
    row = next(line for line in table.splitlines() if line.startswith("resnet50_mixed_precision"))
    assert "skipped (1)" in row and "bfloat16" not in row
    alone = session_report([baseline_result]).partition("\n\n")[0]
    widened = len("resnet50_mixed_precision") - len("baseline")  # only the label column may widen
    assert max(map(len, table.splitlines())) <= max(map(len, alone.splitlines())) + widened  # a reason in a cell
    # had stretched it past 230 characters
    note = below.splitlines()[0]
    assert note == ("resnet50_mixed_precision (seed 0) skipped: no native bfloat16 on this CPU; about 20x slower; "
                    "`--cpu-bf16 always` to run it anyway")
    markdown = session_report([baseline_result], fmt="markdown",
                              skipped=[SkippedCase("resnet50_mixed_precision", 0, NO_NATIVE_BF16)])
    assert "\n- resnet50_mixed_precision (seed 0) skipped: no native bfloat16" in markdown


def test_a_skipped_recipe_is_a_csv_row_too_with_its_reason_in_the_last_column(baseline_result):
    csv_text = session_report([baseline_result], fmt="csv", skipped=[SkippedCase("resnet50_mixed_precision", 0,
                                                                                  NO_NATIVE_BF16)])
    header, *rows = [line.split(",") for line in csv_text.strip().splitlines()]
    assert header[-1] == "skipped" and all(len(row) >= len(header) for row in rows)
    skipped = next(line for line in csv_text.splitlines() if line.startswith("resnet50_mixed_precision"))
    trained = next(line for line in csv_text.splitlines() if line.startswith("baseline"))
    assert "no native bfloat16" in skipped and not trained.endswith("bfloat16")


def test_results_record_what_the_cpu_can_do_in_bf16(baseline_result):
    bf16 = baseline_result.environment["cpu_bf16"]
    assert isinstance(bf16["native"], bool) and bf16["checked_by"] and "torch_cpu_capability" in bf16


def test_cpu_bf16_never_skips_with_the_reason_in_pytests_summary_and_the_table(cache_dir, tmp_path, smoke_session):
    proc = bench(["--benchmark-only", "--scale", "smoke", "--recipe", "resnet50_mixed_precision", "--recipe",
                  "baseline", "--cpu-bf16", "never", "--results-dir", str(tmp_path)], cache_dir)
    assert "SKIPPED [1]" in proc.stdout and "skipped: --cpu-bf16 never" in proc.stdout  # pytest's short summary
    table = proc.stdout.split("= recipebench =")[1]
    assert any(line.startswith("resnet50_mixed_precision") and "skipped: --cpu-bf16 never" in line
               for line in table.splitlines())
    assert [r.recipe for r in load_results([tmp_path])] == ["baseline"]



def test_cpu_bf16_auto_skips_mixed_precision_where_onednn_reports_no_native_bf16(cache_dir, tmp_path, smoke_session):
    """The default (`auto`) end to end, on a CPU faked to have no native bfloat16 (tests/fake_no_bf16.py), so the
    test means the same on an AVX2-only CPU and on one with AVX512-BF16."""
    proc = bench(["-p", "tests.fake_no_bf16", "--benchmark-only", "--scale", "smoke", "--recipe",
                  "resnet50_mixed_precision", "--recipe", "baseline", "--results-dir", str(tmp_path)], cache_dir)
    assert "SKIPPED [1]" in proc.stdout and NO_NATIVE_BF16 in proc.stdout
    (result,) = load_results([tmp_path])
    assert result.recipe == "baseline"

# -- 2. live progress ------------------------------------------------------------------------------------


def test_the_clock_estimates_what_is_left_from_what_the_epochs_took():
    now = [0.0]
    clock = SuiteClock([PlannedCase("a", 0, "r18/fp32", 3), PlannedCase("b", 0, "r50/fp32", 2, lr_finds=1),
                        PlannedCase("c", 0, "r18/fp32", None)], lr_find_epochs=0.5, clock=lambda: now[0])
    assert clock.total_epochs == 5 and clock.left_s() is None  # nothing timed yet
    clock.start_case("a", 0)
    for _ in range(3):
        now[0] += 10
        clock.trained("a", 0, seconds=10, units=1)
    now[0] += 2
    clock.finish_case("a", 0)  # 2 s outside training
    # b: 2.5 units at the mean rate (10 s, no r50 epoch yet) + 2 s; c: unknown length -> the mean plan (2.75)
    assert clock.left_s() == pytest.approx((2.5 * 10 + 2) + (2.75 * 10 + 2))
    assert duration(3725) == "1:02:05" and duration(65) == "1:05" and duration(None) == "?"


def test_a_line_per_epoch_names_case_phase_epoch_loss_error_and_time_left():
    lines = []
    clock = SuiteClock([PlannedCase("contrast", 1, "r18/fp32", 4)])
    progress = LiveProgress(clock, lambda text, final: lines.append((text, final)))
    progress.start_case("contrast", 1)
    progress.epoch(EpochRecord(1, "unfrozen", 2, 0.8123, 0.9, 0.245, 5.0, 4.0, 64), k=2, n=12, span="keep_best")
    text, final = lines[-1]
    assert text.startswith("[1/1] contrast s1 · keep_best unfrozen 2/12 · loss 0.812 · error 0.2450 · ")
    assert "elapsed, ~0:15 left" in text and not final


def test_progress_lines_appear_as_each_epoch_ends_in_a_terminal_and_not_under_q(cache_dir, tmp_path, smoke_session):
    args = [sys.executable, "-m", "pytest", "recipes/", "-p", "no:cacheprovider", "--benchmark-only", "--scale",
            "smoke", "--recipe", "baseline", "--results-dir", str(tmp_path)]
    log = tmp_path / "tty.log"
    subprocess.run(["script", "-qec", " ".join(args), str(log)], cwd=REPO, env=subprocess_env(cache_dir),
                   capture_output=True, timeout=600, check=True)
    tty = log.read_text(errors="replace")
    assert "case(s) to train on cpu" in tty  # the plan, first
    assert "[1/1] baseline s0 · frozen 1/1 · loss" in tty and "\x1b[2K" in tty  # one line, updated in place
    quiet = bench(["-q", "--benchmark-only", "--scale", "smoke", "--recipe", "baseline", "--results-dir",
                   str(tmp_path)], cache_dir)
    assert "[1/1] baseline" not in quiet.stdout and "case(s) to train" not in quiet.stdout


# -- 3. resume -------------------------------------------------------------------------------------------


def test_resume_after_an_interrupted_suite_reruns_only_what_was_missing(cache_dir, tmp_path, smoke_session):
    results = tmp_path / "results"
    args = [sys.executable, "-m", "pytest", "recipes/", "-p", "no:cacheprovider", "--benchmark-only", "--scale",
            "smoke", "--recipe", "baseline", "--recipe", "lr_find_tuned", "--results-dir", str(results)]
    suite = subprocess.Popen(args, cwd=REPO, env=subprocess_env(cache_dir), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not list(results.glob("*/baseline-seed0.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    suite.send_signal(signal.SIGKILL)  # killed while lr_find_tuned trains: no summary, no goodbye
    suite.communicate()
    (folder,) = [p for p in results.iterdir() if p.is_dir()]
    assert [p.name for p in folder.glob("*.json")] == ["baseline-seed0.json"]

    again = bench([*args[4:], "--resume"], cache_dir)
    assert "finished earlier in" in again.stdout and "1 passed, 1 skipped" in again.stdout
    assert sorted(p.name for p in folder.glob("*.json")) == ["baseline-seed0.json", "lr_find_tuned-seed0.json"]
    assert [p for p in results.iterdir() if p.is_dir()] == [folder]  # the same session folder, continued
    summary = (folder / "summary.md").read_text()
    assert "| baseline " in summary and "| lr\\_find\\_tuned " in summary
    table = again.stdout.split("= recipebench =")[1]
    assert any(line.startswith("baseline ") for line in table.splitlines())
    # a case of another configuration (another recipe option) is trained, not taken from it
    other = bench(["--benchmark-only", "--scale", "smoke", "--recipe", "lr_find_tuned", "--recipe-option",
                   "lr_find_tuned.suggestion=steep", "--results-dir", str(results), "--resume"], cache_dir)
    assert "finished earlier" not in other.stdout and "1 passed" in other.stdout
