"""Running a case's test in one call: trained (here or by its worker), timed for pytest-benchmark, recorded, checked."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recipebench.record.results import RunResult
from recipebench.suite.executor import RemoteCase
from recipebench.suite.recording import extra_info

if TYPE_CHECKING:  # pragma: no cover
    from recipebench.suite.progress import LiveProgress
    from recipebench.suite.session import BenchSession
    from recipebench.train.runner import PreparedRun


@dataclass(frozen=True)
class SuiteCase:
    """One recipe x seed as its test gets it (the ``recipe_run`` fixture): the run, prepared here (data,
    weights and Learner ready) or a remote task; the session that records it; the live display, if any."""

    session: BenchSession
    run: PreparedRun | RemoteCase
    progress: LiveProgress | None = None


def run_and_record(benchmark: Any, case: SuiteCase) -> RunResult:
    """The whole body of a case's test: train it (:func:`run_case`), record its result in the session
    (the live display told it ended), give pytest-benchmark its headline figures and document
    (:func:`~recipebench.suite.recording.extra_info`), then fail the test, with where the result is kept,
    if the result is not in the results folder or did not finish ok."""
    result = run_case(benchmark, case)
    saved = case.session.record(result, case.progress)
    benchmark.extra_info.update(extra_info(result, saved.path))
    if not saved.in_results_dir:
        raise AssertionError(f"{result.recipe} seed {result.seed}: not in the results folder ({saved.problem}); "
                             f"the result is kept {saved.where}")
    if not result.ok:
        raise AssertionError(f"{result.recipe} seed {result.seed} {result.status} (recorded {saved.where}):\n"
                             f"{result.error}")
    return result


def run_case(benchmark: Any, case: SuiteCase) -> RunResult:
    """Train the case and return its result, pytest-benchmark given the result's ``wall_s`` as its time:
    the recipe's own stopwatch, less the harness's work inside it (outcome saves), so both tables show one
    number. Its timer around ``train`` would also count the memory meter's set-up (a garbage collection,
    the peak reset) and those saves. For a case that trained elsewhere, the ``wall_s`` its worker measured
    (the time spent waiting for it is not the run's)."""
    run = case.run
    if not isinstance(run, RemoteCase):
        benchmark.pedantic(run.train, rounds=1, iterations=1)
        result = run.finish()
        _give_time(benchmark, result.wall_s)
        return result
    result = run.result()
    if case.progress is not None:
        case.progress.start_case(result.recipe, result.seed)
    if run.measured:  # a worker whose task died measured nothing: no timing row
        report_measured(benchmark, result.wall_s)
    return result


def report_measured(benchmark: Any, seconds: float) -> None:
    """Give pytest-benchmark one round of ``seconds``, measured elsewhere, as the benchmark's time: it times
    a no-op and the round's duration is replaced by the measured one."""
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    _give_time(benchmark, seconds)


def _give_time(benchmark: Any, seconds: float) -> None:
    """Make ``seconds`` the duration of the benchmark's one round (its stats are computed from ``stats.data``
    when read). Where benchmarks are disabled there is nothing to give."""
    if benchmark.stats is not None:
        benchmark.stats.stats.data[:] = [seconds]
