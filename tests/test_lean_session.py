"""A lean session (issue 21, item 5): a case's test is one call; the live progress is passed in; --resume's
folder is found by the case identity alone."""
from __future__ import annotations

import dataclasses

import pytest

from recipebench.record import store
from recipebench.suite.identity import CaseIdentity
from recipebench.suite.options import Options
from recipebench.suite.resume import find_resumed
from recipebench.suite.running import SuiteCase, run_and_record
from recipebench.suite.session import BenchSession


class FakeBenchmark:
    """pytest-benchmark's fixture as run_and_record uses it, benchmarks disabled (no stats)."""

    stats = None

    def __init__(self) -> None:
        self.extra_info: dict = {}
        self.rounds = 0

    def pedantic(self, fn, rounds: int, iterations: int) -> None:
        self.rounds += rounds
        fn()


class FakeProgress:
    """The live display as a run and the recorder tell it: what it is told, in order."""

    def __init__(self) -> None:
        self.told: list[tuple] = []

    def start_case(self, recipe: str, seed: int) -> None:
        self.told.append(("start", recipe, seed))

    def epoch(self, record, k: int, n: int, span) -> None:
        self.told.append(("epoch", k, n))

    def lr_find(self, record) -> None:
        self.told.append(("lr_find",))

    def case_done(self, result) -> None:
        self.told.append(("done", result.recipe, result.seed))


class FinishedRun:
    """A run that trains nothing and finishes with ``result`` (as PreparedRun's train and finish)."""

    def __init__(self, result) -> None:
        self.result = result

    def train(self) -> None:
        pass

    def finish(self):
        return self.result


def fresh_session(cache_dir, results) -> BenchSession:
    return BenchSession(Options(scale="smoke", device="cpu", cache_dir=cache_dir, results_dir=results))


def test_a_case_test_is_one_call_that_trains_records_and_tells_the_progress_it_was_given(cache_dir, tmp_path):
    session = fresh_session(cache_dir, tmp_path / "results")
    progress = FakeProgress()
    benchmark = FakeBenchmark()
    result = run_and_record(benchmark, SuiteCase(session, session.prepare("baseline", 1, progress), progress))
    assert result.ok and session.results == [result]
    path = session.results_dir / "baseline-seed1.json"
    assert store.load_results([path]) == [result]
    assert benchmark.rounds == 1 and benchmark.extra_info["result_file"] == str(path)
    assert benchmark.extra_info["error_rate"] == result.error_rate
    assert progress.told[0] == ("start", "baseline", 1) and progress.told[-1] == ("done", "baseline", 1)
    epochs = [t for t in progress.told if t[0] == "epoch"]
    assert len(epochs) == len(result.epochs) > 0  # the run was given the display: it told it every epoch
    assert not hasattr(session, "progress")  # passed in, not assigned to the session


def test_a_case_that_did_not_finish_ok_fails_its_test_and_says_where_it_is_kept(cache_dir, tmp_path,
                                                                                   baseline_result):
    session = fresh_session(cache_dir, tmp_path / "results")
    failed = dataclasses.replace(baseline_result, status="error", error="RuntimeError: the recipe broke")
    progress = FakeProgress()
    with pytest.raises(AssertionError, match=r"baseline seed 0 error \(recorded at .*baseline-seed0.json\):\n"
                                             r"RuntimeError: the recipe broke"):
        run_and_record(FakeBenchmark(), SuiteCase(session, FinishedRun(failed), progress))
    assert session.results == [failed] and progress.told == [("done", "baseline", 0)]


def test_a_result_kept_outside_the_results_folder_fails_its_test_and_names_the_file(cache_dir, tmp_path,
                                                                                     baseline_result):
    session = fresh_session(cache_dir, tmp_path / "results")
    other_data = dataclasses.replace(baseline_result, workload_fingerprint="0" * 64)
    benchmark = FakeBenchmark()
    with pytest.raises(AssertionError, match="baseline seed 0: not in the results folder \\(refused: trained on "
                                             "other data"):
        run_and_record(benchmark, SuiteCase(session, FinishedRun(other_data)))
    assert session.results == [] and "unsaved-results" in benchmark.extra_info["result_file"]


def test_resume_finds_the_newest_folder_with_the_case_by_its_identity_and_takes_only_finished_cases(
        tmp_path, baseline_result):
    root = tmp_path / "results"
    older, newer = root / "20261201T100000Z-a", root / "20261201T110000Z-b"
    store.write_result(baseline_result, store.session_dir(root, older.name))
    store.write_result(dataclasses.replace(baseline_result, seed=1, status="error"), store.session_dir(root, newer.name))
    case0, case1 = ("baseline", 0), ("baseline", 1)
    wanted = {case0: CaseIdentity.from_result(baseline_result),
              case1: CaseIdentity.from_result(dataclasses.replace(baseline_result, seed=1))}
    found = find_resumed(root, wanted)
    assert found.folder == newer and dict(found.finished) == {}  # attempted there (an error), so it continues there
    found = find_resumed(root, {case0: wanted[case0]})
    assert found.folder == older and list(found.finished) == [case0]
    assert found.reasons() == {case0: f"finished earlier in {older} (--resume)"}
    other = dataclasses.replace(wanted[case0], weights_sha256="f" * 64)  # another weights file: not this case
    assert find_resumed(root, {case0: other}) is None
    assert find_resumed(tmp_path / "nowhere", wanted) is None
