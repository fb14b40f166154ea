"""A benchmark session: one workload, scale, device and set of seeds; every selected recipe x seed.

It holds what its cases share and delegates the rest: what runs (:mod:`~recipebench.suite.planning`),
the data, weights and warm-up (:mod:`~recipebench.suite.setup_checks`), ``--resume``
(:mod:`~recipebench.suite.resume`) and where results go (:mod:`~recipebench.suite.recording`). Used by the
pytest plugin (:mod:`recipebench.suite.pytest_plugin`) and a Ray worker (:mod:`recipebench.suite.executor`);
everything here is instance state.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from recipebench.api import Arch, PreparedData, Recipe, Scale, WeightsFile, Workload
from recipebench.data.cache import default_cache_dir
from recipebench.record import store
from recipebench.record.environment import cpu_bf16, git_commit, versions
from recipebench.record.results import RunResult, SkippedCase
from recipebench.registry import Registry, load_registry
from recipebench.suite.options import Options
from recipebench.suite.planning import Case, Selection
from recipebench.suite.recording import Recorder, Saved, check_results_dir, fallback_dirs, to_stderr
from recipebench.suite.resume import case_identity, find_resumed
from recipebench.suite.setup_checks import SessionInputs, SetupError, Stage, WorkloadError, prepare_run  # noqa: F401
from recipebench.train.runner import PreparedRun, RunPlan

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from recipebench.suite.identity import CaseIdentity


class BenchSession:
    def __init__(self, options: Options, registry: Registry | None = None,
                 say: Callable[[str], None] | None = None, session_id: str | None = None,
                 last_resort: Callable[[str], None] = to_stderr) -> None:
        """``say``: where the session reports what it is about to train on (the data's classes and
        split, once, before the first run); None: nowhere. ``session_id``: this is a remote worker's
        share of the session of that id (:mod:`recipebench.suite.executor`): it trains and returns results,
        the session's driver writes them, so the results folder is not this one's to check.
        ``last_resort``: where a result document goes that no folder takes (a full disk): the terminal."""
        self.say = say
        self.registry = registry if registry is not None else load_registry(options.plugins_dir)
        self.selection = Selection.from_options(options, self.registry)  # the options, every name checked
        if session_id is None:
            check_results_dir(Path(options.results_dir))
        self.cache_dir = Path(options.cache_dir) if options.cache_dir else default_cache_dir()
        self.inputs = SessionInputs(self.selection, self.cache_dir, say)
        self.recorder = Recorder(last_resort)
        self.session_id = session_id or store.new_session_id(self.workload.name, self.scale.name, self.device.type)
        self.code_state = git_commit()  # the code this session loaded, whatever the checkout becomes later
        self.versions = versions()  # likewise the packages it imported, whatever pip installs meanwhile
        self._dir: Path | None = None
        self.bf16 = cpu_bf16()  # what this CPU can do in bfloat16 (mixed-precision recipes on a CPU)
        self.skipped: list[SkippedCase] = []  # cases that do not run, with why: rows of the session's table

    # -- what runs (planning) --
    @property
    def options(self) -> Options:
        return self.selection.options

    @property
    def workload(self) -> Workload:
        return self.selection.workload

    @property
    def recipes(self) -> list[Recipe]:
        return list(self.selection.recipes)

    @property
    def scale(self) -> Scale:
        return self.selection.scale

    @property
    def device(self) -> torch.device:
        return self.selection.device

    @property
    def recipe_options(self) -> Mapping[str, Mapping[str, Any]]:
        return self.selection.recipe_options

    def cases(self) -> list[Case]:
        return self.selection.cases()

    def arch_for(self, recipe: Recipe) -> Arch:
        return self.selection.arch_for(recipe)

    def skip_reason(self, recipe: Recipe) -> str | None:
        return self.selection.skip_reason(recipe, self.bf16)

    def plan(self, recipe_name: str, seed: int) -> RunPlan:
        """Everything the case ``recipe_name`` x ``seed`` trains with (data and weights made ready first)."""
        recipe = self.registry.recipe(recipe_name)
        arch = self.arch_for(recipe)
        return RunPlan(recipe=recipe, recipe_plugin=self.registry.recipes[recipe_name].plugin,
                       recipe_options=self.recipe_options[recipe_name], workload=self.workload.name,
                       data=self.data(), scale=self.scale, arch=arch, seed=seed,
                       weights=None if recipe.weights == "none" else self.weights_for(arch),
                       device=self.device, session_id=self.session_id, code_state=self.code_state,
                       versions=self.versions, deterministic=self.options.deterministic,
                       evaluations=self.selection.evaluations_for(recipe), metrics=self.registry.all_metrics)

    def identity(self, recipe_name: str, seed: int) -> CaseIdentity:
        """What must match for a finished result to stand for this case."""
        return case_identity(self.plan(recipe_name, seed), self.options)

    # -- set-up checks --
    def data(self, progress: Callable[[int, int, str], None] | None = None) -> PreparedData:
        return self.inputs.data(progress)

    def weights_for(self, arch: Arch) -> WeightsFile | None:
        return self.inputs.weights_for(arch)

    @property
    def warm_up_s(self) -> float | None:
        return self.inputs.warm_up_s

    def setup_stages(self, recipe_names, warm_up_here: bool = True, setup=None) -> list[Stage]:
        return self.inputs.stages(recipe_names, warm_up_here, setup)

    def check_setup(self, recipe_names, warm_up_here: bool = True, setup=None) -> None:
        self.inputs.check(recipe_names, warm_up_here, setup)

    def prepare(self, recipe_name: str, seed: int, progress=None) -> PreparedRun:
        """The run prepared: data, weights and Learner ready; ``progress`` (the live display) is told it
        starts and follows its epochs (:func:`~recipebench.suite.setup_checks.prepare_run`)."""
        if progress is not None:
            progress.start_case(recipe_name, seed)
        return prepare_run(self.plan(recipe_name, seed), self.options.weights, progress)

    # -- the session's folder, resume and recording --
    @property
    def results_dir(self) -> Path:
        """This session's folder under --results-dir, made on first use under a name no other session has
        (two suites started in the same second: ``<id>`` and ``<id>-2``), which becomes the session's id:
        the suite claims it before the first case is planned, so every document names its own folder."""
        if self._dir is None:
            self._dir = store.session_dir(Path(self.options.results_dir), self.session_id)
            self.session_id = self._dir.name
        return self._dir

    def claim_results_dir(self) -> Path:
        """Make this session's folder (and so its id, :attr:`results_dir`) now, before cases are planned."""
        return self.results_dir

    def release_results_dir(self) -> None:
        """At the end: the session folder, if it stayed empty (nothing finished), is removed again."""
        if self._dir is not None:
            store.remove_if_empty(self._dir)

    def resume(self, cases: list[Case]) -> dict[Case, str]:
        """``--resume``: the newest session folder holding a current document of one of ``cases`` with the
        same identity becomes this session's folder (:func:`~recipebench.suite.resume.find_resumed`); its
        finished cases are taken from it (into :attr:`results`, for the table) instead of trained again.
        Returns each skipped case with why. Call after :meth:`check_setup` (the identity includes the
        data's fingerprint and the weights)."""
        found = find_resumed(Path(self.options.results_dir), {case: self.identity(*case) for case in cases},
                             self.say)
        if found is None:
            return {}
        self.session_id, self._dir = found.folder.name, found.folder
        for result, path in found.finished.values():
            self.recorder.taken(result, path)
        return found.reasons()

    @property
    def results(self) -> list[RunResult]:
        """The session's results so far: the rows of its table."""
        return self.recorder.results

    @property
    def saved(self) -> list[Saved]:
        """Where each result went."""
        return self.recorder.saved

    def record(self, result: RunResult, progress=None) -> Saved:
        """Keep ``result`` and write it to the session folder, or elsewhere, never lost
        (:meth:`~recipebench.suite.recording.Recorder.record`); ``progress``: the live display, told it ended."""
        return self.recorder.record(result, lambda: self.results_dir, self.data().fingerprint,
                                    lambda: fallback_dirs(self.cache_dir, self.session_id), progress)
