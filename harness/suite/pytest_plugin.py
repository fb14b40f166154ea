"""The benchmark suite's pytest plugin: options, one test per recipe x seed, and the final table.

``recipes/conftest.py`` imports these hooks, so they apply to ``pytest recipes/ ...`` only.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from recipebench.analysis.metrics import measured
from recipebench.render import session_table as render
from recipebench.record import store
from recipebench.suite import outputs
from recipebench.suite.executor import RemoteCase, make_executor
from recipebench.record.atomic import atomic_write
from recipebench.suite.options import FLAGS, OPTION_TABLE, REPEATABLE, UsageError, from_values
from recipebench.registry import PluginError
from recipebench.record.results import RunResult, SkippedCase
from recipebench.suite.recording import to_stderr
from recipebench.suite.running import SuiteCase
from recipebench.suite.session import BenchSession, SetupError

SESSION_KEY = pytest.StashKey[BenchSession]()
TERMINAL_KEY = pytest.StashKey[Any]()
EXECUTOR_KEY = pytest.StashKey[Any]()
OUTPUTS_KEY = pytest.StashKey[Any]()  # the outputs written at the end (recipebench.suite.outputs.Chosen)
PROGRESS_KEY = pytest.StashKey[Any]()  # the live display (LiveProgress), once the plan is shown; each case gets it
SIGTERM_KEY = pytest.StashKey[Any]()  # the SIGTERM handler before the suite's, put back at the end
_DEST_PREFIX = "recipebench_"
#: Markers every case gets from its recipe, so `-m "not mixed_precision"` or `-m deep` select cases.
MARKERS = {
    "mixed_precision": "the recipe asks for mixed precision (fp16 on CUDA, bf16 on CPU -- slow on CPUs "
                       "without native bfloat16 kernels)",
    "deep": "the recipe trains the workload's deeper architecture",
    "next_chapter": "the recipe is of the book's next chapter (--suite next_chapter or all creates its cases)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("recipebench", "recipebench benchmark suite")
    for flag, dest, help_text, _parse, _default in OPTION_TABLE:
        if dest in REPEATABLE:
            group.addoption(flag, dest=_DEST_PREFIX + dest, action="append", default=None, help=help_text)
        elif dest in FLAGS:
            group.addoption(flag, dest=_DEST_PREFIX + dest, action="store_true", default=False, help=help_text)
        else:
            group.addoption(flag, dest=_DEST_PREFIX + dest, default=None, help=help_text)


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    values = {dest: config.getoption(_DEST_PREFIX + dest) for _f, dest, *_ in OPTION_TABLE}
    _refuse_xdist(config)
    try:
        options = from_values(values)
        config.stash[EXECUTOR_KEY] = make_executor(options, say=_terminal_line(config))
        config.stash[SESSION_KEY] = BenchSession(options, say=_terminal_line(config),
                                                 last_resort=_terminal_stderr(config))
        config.stash[OUTPUTS_KEY] = outputs.choose(config.stash[SESSION_KEY].registry, options.outputs,
                                                   options.output_options)
    except (UsageError, PluginError) as exc:
        raise pytest.UsageError(str(exc)) from None
    _stop_on_sigterm(config)


def _stop_on_sigterm(config: pytest.Config) -> None:
    """SIGTERM (a cancelled CI job, ``kill``) stops the suite as Ctrl-C does: the case training is
    abandoned, every document already written stays, and the table and ``summary.md`` of what finished
    are written; ``--resume`` completes the rest. A second SIGTERM ends the process at once."""
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover - pytest run from a thread
        return
    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        raise KeyboardInterrupt("recipebench: SIGTERM: stopping as for Ctrl-C; finished results are kept "
                                "(--resume completes the rest)")

    config.stash[SIGTERM_KEY] = previous
    signal.signal(signal.SIGTERM, stop)


def _refuse_xdist(config: pytest.Config) -> None:
    """``pytest -n N`` (pytest-xdist) would make every xdist worker a session of its own (its own results
    folder, table and warm-up) with cases training at once on the same cores: refused, with the way that works."""
    if getattr(config.option, "numprocesses", None) or getattr(config.option, "dist", "no") != "no":
        raise pytest.UsageError("recipebench: pytest -n / --dist (pytest-xdist) cannot split the benchmark suite: "
                                "it would make one session per xdist worker, with cases timing each other on the "
                                "same cores; to train cases in parallel use --executor ray (one case per GPU, or per "
                                "node on CPUs; see docs/ray.md)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "recipe_case" in metafunc.fixturenames:
        session = metafunc.config.stash[SESSION_KEY]
        params = []
        for name, seed in session.cases():
            recipe = session.registry.recipe(name)
            marks = [pytest.mark.mixed_precision] if recipe.precision == "mixed" else []
            marks += [pytest.mark.deep] if recipe.arch_role == "deep" else []
            marks += [getattr(pytest.mark, recipe.suite)] if recipe.suite in MARKERS else []
            params.append(pytest.param((name, seed), marks=marks, id=f"{name}-seed{seed}"))
        metafunc.parametrize("recipe_case", params)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Before the first case trains: cases that do not run here are marked skipped with why (a
    mixed-precision recipe on a CPU without native bfloat16; with --resume, the cases finished earlier);
    the data and the weights of the others are made ready (and checked), so a problem with them is a
    usage error now (exit 4, one line), not a traceback later; then the plan is shown."""
    config = session.config
    bench = config.stash.get(SESSION_KEY, None)
    if bench is None or config.option.collectonly:
        return
    items = {item.callspec.params["recipe_case"]: item for item in session.items
             if hasattr(item, "callspec") and "recipe_case" in item.callspec.params}
    if not items:
        return
    skips = {case: reason for case in items if (reason := bench.skip_reason(bench.registry.recipe(case[0])))}
    bench.skipped = [SkippedCase(*case, reason) for case, reason in skips.items()]
    to_run = [case for case in items if case not in skips]
    executor = config.stash[EXECUTOR_KEY]
    setup = _setup_progress(config, bench, to_run, executor.trains_here) if config.get_verbosity() >= 0 else None
    try:
        bench.check_setup([name for name, _ in to_run], warm_up_here=executor.trains_here, setup=setup)
        if setup is not None and setup.seconds:
            config.stash[TERMINAL_KEY].lines([setup.summary_line()])
        if bench.options.resume:
            resumed = bench.resume(to_run)
            skips.update(resumed)
            to_run = [case for case in to_run if case not in resumed]
        if to_run:
            bench.claim_results_dir()  # the session's own folder and id, before any case is planned
    except (SetupError, UsageError) as exc:
        raise pytest.UsageError(f"recipebench: {exc}") from None
    except OSError as exc:
        raise pytest.UsageError(f"recipebench: --results-dir {bench.options.results_dir}: cannot make the "
                                f"session's folder there ({exc.strerror or exc})") from None
    for case, reason in skips.items():
        items[case].add_marker(pytest.mark.skip(reason=reason))
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if skips and reporter is not None and not {"s", "a", "A"} & set(reporter.reportchars):
        reporter.reportchars += "s"  # the skip reasons belong in pytest's short summary too
    if config.get_verbosity() >= 0 and to_run:
        _start_progress(config, bench, to_run, skips)
    try:
        executor.submit(bench, to_run)
    except UsageError as exc:
        raise pytest.UsageError(f"recipebench: {exc}") from None


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The executor ends: cases that finished elsewhere but whose tests did not run (Ctrl-C, ``-x``) are
    recorded all the same; those still running are cancelled."""
    executor = session.config.stash.get(EXECUTOR_KEY, None)
    bench = session.config.stash.get(SESSION_KEY, None)
    if executor is None or bench is None:
        return
    for result in executor.close(bench):
        bench.record(result)
    bench.release_results_dir()


def _terminal(config: pytest.Config):
    """The session's live terminal (made on first use)."""
    from recipebench.suite.progress import PytestTerminal

    if TERMINAL_KEY not in config.stash:
        config.stash[TERMINAL_KEY] = PytestTerminal(config)
    return config.stash[TERMINAL_KEY]


def _setup_progress(config: pytest.Config, bench: BenchSession, to_run, warm_up_here: bool):
    """The set-up's display: its plan line now, then each stage as :meth:`BenchSession.check_setup` runs it."""
    from recipebench.suite.progress import SetupProgress

    names = [name for name, _ in to_run]
    stages = [name for name, _do in bench.setup_stages(names, warm_up_here)]
    if not stages:
        return None
    terminal = _terminal(config)
    setup = SetupProgress(terminal)
    terminal.lines([setup.plan_line(stages, len(to_run))])
    return setup


def _start_progress(config: pytest.Config, bench: BenchSession, to_run, skips) -> None:
    from recipebench.suite.progress import LiveProgress

    terminal = _terminal(config)
    progress = LiveProgress(bench.selection.suite_clock(to_run, bench.data()), terminal)
    config.stash[PROGRESS_KEY] = progress
    said = [f"{name} seed {seed}: {reason}" for (name, seed), reason in skips.items()]
    terminal.lines(progress.plan_lines(f"{bench.selection.device_label()}, {bench.scale.name} scale", said))


def pytest_unconfigure(config: pytest.Config) -> None:
    terminal = config.stash.get(TERMINAL_KEY, None)
    if terminal is not None:  # a suite stopped mid-case (Ctrl-C) leaves its live line: end it
        terminal.close()
    if SIGTERM_KEY in config.stash:
        previous = config.stash[SIGTERM_KEY]
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _terminal_line(config: pytest.Config):
    """Write a line to the terminal now, even while pytest captures output (at the end of collection, in a
    test's setup): capture is suspended for it."""
    def say(line: str) -> None:
        if TERMINAL_KEY in config.stash:  # the live display is up: its line ends first, then this one
            config.stash[TERMINAL_KEY].lines([f"recipebench: {line}"])
            return
        capture = config.pluginmanager.getplugin("capturemanager")
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if reporter is None:  # pragma: no cover - pytest run with -p no:terminal
            return
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(f"recipebench: {line}")
    return say


def _terminal_stderr(config: pytest.Config):
    """Write text to the terminal's stderr now, pytest's capture suspended (a result no disk takes)."""
    def write(text: str) -> None:
        capture = config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            to_stderr(text)
    return write


@pytest.fixture
def bench_session(request: pytest.FixtureRequest) -> BenchSession:
    """The session: workload, scale, device, seeds and the results gathered so far."""
    return request.config.stash[SESSION_KEY]


@pytest.fixture
def recipe_run(request: pytest.FixtureRequest, bench_session: BenchSession, recipe_case) -> SuiteCase:
    """This test's recipe x seed: its run prepared (data, weights, Learner) but not yet trained, or its
    remote task; with the session and the live display (:func:`recipebench.suite.running.run_and_record`)."""
    recipe, seed = recipe_case
    progress = request.config.stash.get(PROGRESS_KEY, None)
    try:
        run = request.config.stash[EXECUTOR_KEY].case(bench_session, recipe, seed, progress)
    except (SetupError, UsageError) as exc:  # data, weights, device: one line, no traceback
        pytest.exit(f"recipebench: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    return SuiteCase(bench_session, run, progress)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None or not (session.results or session.skipped):
        return
    terminalreporter.section("recipebench")
    ranked_by = {"reference": session.options.reference, "target_error": session.options.target_error,
                 "metric": session.options.metric}
    if ranked_by["metric"] is not None and ranked_by["metric"] not in {m.name for m in measured(session.results)}:
        terminalreporter.write_line(f"recipebench: no run has a final {ranked_by['metric']} (--metric): the table "
                                    "ranks by error_rate", red=True)
        ranked_by["metric"] = None
    for line in render.session_report(session.results, skipped=session.skipped, **ranked_by).splitlines():
        terminalreporter.write_line(line)
    written = [s for s in session.saved if s.in_results_dir]
    elsewhere = [s for s in session.saved if not s.in_results_dir]
    for saved in elsewhere:
        terminalreporter.write_line(f"recipebench: a result is not in the results folder ({saved.problem}); "
                                    f"kept {saved.where}", red=True)
    if not written:
        return
    folder = session.results_dir
    # The outputs (summary.md, epochs.png, --output ...) come after every document is on disk: one that fails
    # is named and the next runs; `recipebench export NAME FOLDER` writes it again from the documents.
    results, skipped = _folder_cases(session, folder, terminalreporter)
    beside = folder.parent  # a tracker's store: beside the session folder, where `export` of it puts it too

    def say(line: str) -> None:
        terminalreporter.write_line(f"recipebench: {line}")

    done = outputs.write(config.stash.get(OUTPUTS_KEY, ()), lambda chosen: outputs.session_output(
        results, skipped, folder, folder, beside, options=chosen.options, say=say, **ranked_by))
    for outcome in done:
        if outcome.failed:
            terminalreporter.write_line(f"(output {outcome.name} failed: {outcome.failed}; the results are kept: "
                                        f"recipebench export {outcome.name} {folder} --out-dir {folder}"
                                        + "".join(f" --{k.replace('_', '-')} {v}" for k, v in ranked_by.items()
                                                  if v is not None) + " tries again)", red=True)
    extras = [shown for outcome in done for shown in outputs.shown(outcome, folder)]
    terminalreporter.write_line(f"results: {folder} ({len(written)} runs{''.join(', ' + e for e in extras)})")


def _folder_cases(session: BenchSession, folder: Path, terminalreporter) -> tuple[list[RunResult], list[SkippedCase]]:
    """Every case of the session folder, for its outputs (``summary.md``, ``epochs.png``): this session's results
    (one kept in a fallback folder too), then the folder's other current documents (a resumed session's
    folder holds cases this session did not select), and the cases it skipped that nothing ran."""
    cases = {(r.recipe, r.seed): r for r in session.results}
    try:
        for r in store.load_results([folder]):
            cases.setdefault((r.recipe, r.seed), r)
    except (store.ResultsError, OSError) as exc:  # a broken document there, or no folder: this session's results only
        terminalreporter.write_line(f"(the outputs cover this session's results only: {exc})")
    return list(cases.values()), [s for s in session.skipped if (s.recipe, s.seed) not in cases]
