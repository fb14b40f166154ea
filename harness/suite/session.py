"""A benchmark session: one workload, scale, device and set of seeds; every selected recipe x seed.

Used by the pytest plugin (:mod:`recipebench.suite.pytest_plugin`); everything here is instance state.
"""
from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from recipebench.record import store
from recipebench.train import weights as weights_mod
from recipebench.api import Arch, PreparedData, Recipe, WeightsFile, WorkloadRequest
from recipebench.data.cache import default_cache_dir
from recipebench.data.checks import class_report
from recipebench.record.environment import (
    DeviceError,
    cpu_bf16,
    git_commit,
    is_cuda,
    resolve_device,
    versions,
)
from recipebench.record.atomic import sha256_file
from recipebench.suite.identity import CaseIdentity
from recipebench.train.measure import warm_up
from recipebench.suite.options import Options, UsageError, coerce_option
from recipebench.registry import Registry, UnknownNameError, load_registry
from recipebench.record.results import RunResult, SkippedCase
from recipebench.analysis.rows import OUTCOME_SEP
from recipebench.train.runner import PreparedRun, RunPlan, prepare


class SetupError(RuntimeError):
    """A run cannot be set up (data, weights, device); the message names the file or option and what to do."""


class WorkloadError(SetupError):
    """The workload's data or weights cannot be made ready; the message says what to do."""


#: Why a mixed-precision recipe does not run on a CPU without native bfloat16 (the table and pytest say it).
NO_NATIVE_BF16 = ("skipped: no native bfloat16 on this CPU; about 20x slower; `--cpu-bf16 always` to run it "
                  "anyway")
#: Result statuses that a resumed session does not train again: an error may be the machine's, so it reruns.
FINISHED = ("ok", "diverged")


@dataclass(frozen=True)
class Saved:
    """Where a finished run's result document went."""

    path: Path | None  # None: no folder took it; it was printed to the terminal (:meth:`BenchSession.record`)
    in_results_dir: bool  # False: the results folder failed, the document went to a fallback folder
    problem: str | None = None  # why the results folder failed
    printed_as: str | None = None  # with no path: the line the document follows on stderr

    @property
    def where(self) -> str:
        """Where the document is, for "kept ...": ``at <its file>``, or on the terminal."""
        if self.path is not None:
            return f"at {self.path}"
        return (f"nowhere on disk (every folder failed): printed to the terminal (stderr) after the line "
                f"{self.printed_as!r}")


def print_document(result: RunResult, write: Callable[[str], None]) -> str:
    """The last resort for a result no folder takes: its whole document through ``write`` (the
    terminal's stderr), between a BEGIN and an END line that name the case; returns the BEGIN line."""
    case = f"recipebench result {result.recipe} seed {result.seed}"
    begin = (f"----- BEGIN {case}: no folder could take it; save the lines between BEGIN and END as "
             f"{store.case_file(result.recipe, result.seed)} -----")
    # ASCII escapes (\u732b for 猫): a terminal or log that takes only ASCII must not lose the last copy
    write("\n".join([begin, json.dumps(result.to_dict(), indent=2, default=str), f"----- END {case} -----"]) + "\n")
    return begin


def to_stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


class BenchSession:
    def __init__(self, options: Options, registry: Registry | None = None,
                 say: Callable[[str], None] | None = None, session_id: str | None = None,
                 last_resort: Callable[[str], None] = to_stderr) -> None:
        """``say``: where the session reports what it is about to train on (the data's classes and
        split, once, before the first run); None: nowhere. ``session_id``: this is a remote worker's
        share of the session of that id (:mod:`recipebench.suite.executor`): it trains and returns results,
        the session's driver writes them, so the results folder is not this one's to check.
        ``last_resort``: where a result document goes that no folder takes (a full disk): the terminal."""
        self.options = options
        self.say = say
        self.last_resort = last_resort
        self.registry = registry if registry is not None else load_registry(options.plugins_dir)
        try:
            self.workload = self.registry.workload(options.workload)
            self.recipes: list[Recipe] = [self.registry.recipe(n) for n in options.recipes] or [
                r.item for r in self.registry.recipes.values() if options.suite in ("all", r.item.suite)
            ]
            for name in (options.arch, options.deep_arch):
                if name is not None:
                    self.registry.arch(name)
        except UnknownNameError as exc:
            raise UsageError(str(exc)) from None
        if not self.recipes:
            suites = sorted({r.item.suite for r in self.registry.recipes.values()})
            raise UsageError(f"--suite {options.suite}: no recipe is in that suite (suites: {', '.join(suites)}, all)")
        if options.reference is not None:  # a typo found now, not under the table at the end of the suite
            try:
                self.registry.recipe(options.reference.split(OUTCOME_SEP)[0])
            except UnknownNameError as exc:
                raise UsageError(f"--reference {options.reference}: {exc}") from None
        if options.metric is not None and options.metric not in self.registry.metrics:
            raise UsageError(f"--metric {options.metric}: not a registered metric; choose one of "
                             f"{', '.join(self.registry.metrics)}")
        try:
            self.device = resolve_device(options.device)
        except DeviceError as exc:
            raise UsageError(str(exc)) from None
        self.scale = self.workload.scales[options.scale or ("full" if is_cuda(self.device) else "quick")]
        self.recipe_options = {r.name: self._options_for(r) for r in self.recipes}
        for name, given in options.recipe_options.items():  # a typo in a recipe's name, or in one not run now
            if name in self.recipe_options:
                continue  # checked just above
            try:
                self._options_for(self.registry.recipe(name))
            except UnknownNameError as exc:
                key, value = next(iter(given.items()))
                raise UsageError(f"--recipe-option {name}.{key}={value}: {exc}") from None
        try:  # before any data is prepared or anything trains: a result that cannot be written is lost
            if session_id is None:
                store.check_writable(Path(options.results_dir))
        except OSError as exc:
            raise UsageError(f"--results-dir {options.results_dir}: cannot write result files there "
                             f"({exc.strerror or exc}); choose a folder you can write to") from None
        self.cache_dir = Path(options.cache_dir) if options.cache_dir else default_cache_dir()
        self.session_id = session_id or store.new_session_id(self.workload.name, self.scale.name, self.device.type)
        self.code_state = git_commit()  # the code this session loaded, whatever the checkout becomes later
        self.versions = versions()  # likewise the packages it imported, whatever pip installs meanwhile
        self.results: list[RunResult] = []
        self.saved: list[Saved] = []
        self._data: PreparedData | None = None
        self._weights: dict[str, WeightsFile | None] = {}
        self._dir: Path | None = None
        self.warm_up_s: float | None = None  # seconds of the session's untimed warm-up, once done
        self.progress = None  # the live display (recipebench.suite.progress.LiveProgress), when someone watches
        self.bf16 = cpu_bf16()  # what this CPU can do in bfloat16 (mixed-precision recipes on a CPU)
        self.skipped: list[SkippedCase] = []  # cases that do not run, with why: rows of the session's table

    def _options_for(self, recipe: Recipe) -> dict[str, Any]:
        given = self.options.recipe_options.get(recipe.name, {})
        unknown = sorted(set(given) - set(recipe.options))
        if unknown:
            known = ", ".join(recipe.options) or "none"
            raise UsageError(f"--recipe-option {recipe.name}.{unknown[0]}: recipe {recipe.name!r} has no option "
                             f"{unknown[0]!r} (its options: {known})")
        chosen = {}
        for key, option in recipe.options.items():
            value = coerce_option(recipe.name, key, given[key], option.default) if key in given else option.default
            if option.choices and value not in option.choices:
                raise UsageError(f"--recipe-option {recipe.name}.{key}={value}: choose one of "
                                 f"{', '.join(map(str, option.choices))}")
            chosen[key] = value
        return chosen

    def cases(self) -> list[tuple[str, int]]:
        """(recipe, seed) for every run of the session, seed-major: every recipe for the first seed,
        then every recipe for the next, so that a machine's drift during a session is spread over all
        recipes instead of lining up with one of them."""
        return [(r.name, s) for s in self.options.seeds for r in self.recipes]

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

    def data(self, progress: Callable[[int, int, str], None] | None = None) -> PreparedData:
        """The workload's data, made ready once per session (``progress``: told how the making goes, and
        how the pretraining of the workload's own weights goes later)."""
        if self._data is None:
            o = self.options
            request = WorkloadRequest(scale=self.scale, cache_dir=self.cache_dir, device=self.device,
                                      data_dir=o.data_dir, label_re=o.label_re, labels=o.labels, split=o.split,
                                      drop_small_classes=o.drop_small_classes, progress=progress)
            try:
                self._data = self.workload.prepare(request)
            except (OSError, ValueError, RuntimeError) as exc:
                raise WorkloadError(f"workload {self.workload.name!r}: {exc}") from exc
            if self.say is not None:
                for line in class_report(self._data):
                    self.say(line)
        return self._data

    def arch_for(self, recipe: Recipe) -> Arch:
        if recipe.arch_role == "deep":
            return self.registry.arch(self.options.deep_arch or self.scale.deep_arch)
        return self.registry.arch(self.options.arch or self.scale.arch)

    def weights_for(self, arch: Arch) -> WeightsFile | None:
        """The pretrained weights for ``arch`` per --weights (made or found once per session)."""
        if arch.name not in self._weights:
            self._weights[arch.name] = self._resolve_weights(arch)
        return self._weights[arch.name]

    def skip_reason(self, recipe: Recipe) -> str | None:
        """Why ``recipe`` does not train in this session, or None: on a CPU, a mixed-precision recipe
        runs where the CPU has native bfloat16 kernels (``--cpu-bf16 auto``), always, or never."""
        if recipe.precision != "mixed" or is_cuda(self.device) or self.options.cpu_bf16 == "always":
            return None
        if self.options.cpu_bf16 == "never":
            return "skipped: --cpu-bf16 never (mixed precision is bf16 on a CPU)"
        return None if self.bf16["native"] else NO_NATIVE_BF16

    def resume(self, cases: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """``--resume``: the newest session folder under --results-dir holding a current document of one of
        ``cases`` with the same identity (:class:`~recipebench.suite.identity.CaseIdentity`) becomes this session's
        folder; its cases that finished (status ok or diverged) are taken from it (into :attr:`results`, for
        the table) instead of trained again, the others train there (an earlier attempt moves to its
        ``attempts/``). Returns each skipped case with why. Call after :meth:`check_setup` (the identity
        includes the data's fingerprint and the weights)."""
        wanted = {case: self.identity(*case) for case in cases}
        root = Path(self.options.results_dir)
        for folder in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True) if root.is_dir() else ():
            found, attempted = {}, False
            for path in sorted(folder.glob("*.json")):
                try:
                    (result,) = store.load_results([path])
                except store.NewerResultError as exc:  # not this recipebench's to judge: said, not silently redone
                    if self.say is not None:
                        self.say(f"--resume cannot read {exc}; no case is taken from it")
                    continue
                except (store.ResultsError, ValueError):
                    continue  # not a result of ours (or broken): not a case of this session
                case = (result.recipe, result.seed)
                if case in wanted and CaseIdentity.from_result(result) == wanted[case]:
                    attempted = True
                    if result.status in FINISHED:
                        found[case] = (result, path)
            if attempted:
                self.session_id, self._dir = folder.name, folder
                for result, path in found.values():
                    self.results.append(result)
                    self.saved.append(Saved(path, in_results_dir=True))
                return {case: f"finished earlier in {folder} (--resume)" for case in found}
        return {}

    def identity(self, recipe_name: str, seed: int) -> CaseIdentity:
        """What must match for a finished result to stand for this case."""
        return CaseIdentity.from_plan(self.plan(recipe_name, seed), self.options.executor,
                                      self.options.cases_per_node)

    def device_label(self) -> str:
        """The device as the plan line names it: ``cpu, AMD EPYC (2 threads)``, ``cuda:0, NVIDIA H200``."""
        from recipebench.record.environment import device_name

        return f"{self.device}, {device_name(self.device)}"

    def suite_clock(self, cases: list[tuple[str, int]]):
        """The arithmetic of the live progress for ``cases``: each case's epochs from a dry run of its
        recipe, an lr_find counted as its iterations over the batches of an epoch."""
        from recipebench.train import dryrun
        from recipebench.suite.progress import PlannedCase, SuiteClock

        planned = []
        for name, seed in cases:
            recipe = self.registry.recipe(name)
            work = dryrun.plan(recipe, self.scale, self.recipe_options[name])
            planned.append(PlannedCase(name, seed, f"{self.arch_for(recipe).name}/{recipe.precision}",
                                       work.epochs if work else None, work.lr_finds if work else 0))
        data = self.data()
        train = sum(t for t, _ in data.class_counts.values()) or int(data.n_files * 0.8)
        batches = max(train // self.scale.batch_size, 1)
        return SuiteClock(planned, lr_find_epochs=min((self.scale.lr_find_num_it or 100) / batches, 20.0))

    def setup_stages(self, recipe_names, warm_up_here: bool = True, setup=None) -> list[tuple[str, Callable[[], Any]]]:
        """What :meth:`check_setup` still has to do, as (name, do) stages in order: the workload's data,
        each needed architecture's weights, the warm-up (``setup``: told each stage's progress)."""
        step = setup.step if setup is not None else None
        archs: dict[str, tuple[Arch, set[str]]] = {}  # arch name -> (arch, the precisions it trains in)
        pretrained: set[str] = set()  # the archs some recipe loads weights for
        for name in dict.fromkeys(recipe_names):
            recipe = self.registry.recipe(name)
            arch = self.arch_for(recipe)
            archs.setdefault(arch.name, (arch, set()))[1].add(recipe.precision)
            if recipe.weights != "none":
                pretrained.add(arch.name)
        stages: list[tuple[str, Callable[[], Any]]] = []
        if self._data is None:
            stages.append((f"workload {self.workload.name} ({self.scale.name})", lambda: self.data(progress=step)))
        for name, (arch, _) in archs.items():
            if name not in self._weights and name in pretrained:
                stages.append((f"weights for {name}", lambda arch=arch: self.weights_for(arch)))
        if self.warm_up_s is None and warm_up_here:  # untimed, before the first case: one pass per arch and precision
            jobs = [(arch.build, precision) for arch, precisions in archs.values() for precision in sorted(precisions)]

            def warm() -> None:
                self.warm_up_s = warm_up(self.device, jobs, self.scale.batch_size, self.scale.image_size)
            stages.append(("warm-up", warm))
        return stages

    def check_setup(self, recipe_names, warm_up_here: bool = True, setup=None) -> None:
        """Make the data and every needed architecture's weights ready now, before anything trains, so
        that a problem with them ends the session at once with a message (:class:`SetupError`,
        :class:`UsageError`) instead of in the middle of the suite. ``warm_up_here``: False where the
        cases train elsewhere (each remote worker warms up before its case). ``setup``: a
        :class:`recipebench.suite.progress.SetupProgress` that shows each stage of :meth:`setup_stages`."""
        for name, do in self.setup_stages(recipe_names, warm_up_here, setup):
            with setup.stage(name) if setup is not None else contextlib.nullcontext():
                do()

    def _resolve_weights(self, arch: Arch) -> WeightsFile | None:
        weights = self._find_weights(arch)
        if weights is not None:
            from recipebench.train.learner import WeightsError, load_body_weights, read_state_dict

            try:  # a file that does not fit is found now, not when the first recipe builds its Learner
                load_body_weights(arch.build(), read_state_dict(weights.path), arch, origin=str(weights.path))
            except WeightsError as exc:
                raise WorkloadError(f"--weights {self.options.weights}: {exc}. Pass a torchvision-style state dict "
                                    f"of {arch.name} (--arch to choose another architecture), or --weights none") \
                    from None
        return weights

    def _find_weights(self, arch: Arch) -> WeightsFile | None:
        data = self.data()
        choice = self.options.weights
        if choice == "auto":
            choice = data.default_weights
        if choice == "none":
            return None
        source = data.weight_sources.get(choice) or weights_mod.source_for(choice)
        if source is not None:
            try:
                return source(arch)
            except (OSError, ValueError, RuntimeError) as exc:
                given = self.options.weights if choice == self.options.weights else f"auto (here: {choice})"
                raise WorkloadError(f"--weights {given} for {arch.name}: {exc}") from exc
        path = Path(choice).expanduser()
        if path.is_file():
            return WeightsFile(source="file", path=path.resolve(), sha256=sha256_file(path))
        sources = ", ".join(["none", "imagenet[:VERSION]", *data.weight_sources, "PATH"])
        raise UsageError(f"--weights {self.options.weights!r}: not a file, and workload {self.workload.name!r} "
                         f"offers no such weight source (choose from: {sources})")

    def plan(self, recipe_name: str, seed: int) -> RunPlan:
        recipe = self.registry.recipe(recipe_name)
        arch = self.arch_for(recipe)
        return RunPlan(recipe=recipe, recipe_plugin=self.registry.recipes[recipe_name].plugin,
                       recipe_options=self.recipe_options[recipe_name], workload=self.workload.name,
                       data=self.data(), scale=self.scale, arch=arch, seed=seed,
                       weights=None if recipe.weights == "none" else self.weights_for(arch),
                       device=self.device, session_id=self.session_id, code_state=self.code_state,
                       versions=self.versions, deterministic=self.options.deterministic,
                       metrics=self.registry.all_metrics)

    def prepare(self, recipe_name: str, seed: int) -> PreparedRun:
        """The run prepared: data, weights and Learner ready. Problems with them raise :class:`SetupError`
        naming the recipe and the file or option at fault."""
        from recipebench.data.checks import DataError
        from recipebench.train.learner import WeightsError

        if self.progress is not None:
            self.progress.start_case(recipe_name, seed)
        plan = self.plan(recipe_name, seed)
        try:
            return prepare(plan, observer=self.progress)
        except (WeightsError, DataError, OSError) as exc:
            used = "none" if plan.recipe.weights == "none" else self.options.weights
            raise SetupError(f"recipe {recipe_name} ({plan.arch.name}, weights {used}): {exc}") \
                from exc
        except RuntimeError as exc:
            if type(exc).__name__ != "OutOfMemoryError":  # torch.OutOfMemoryError: the device is too small
                raise
            raise SetupError(f"recipe {recipe_name}: {self.device} ran out of memory building the Learner "
                             f"({plan.arch.name}, batch size {self.scale.batch_size}); try a smaller --scale") \
                from exc

    def record(self, result: RunResult) -> Saved:
        """Keep ``result`` and write it to the session folder. If that fails (the disk filled up during
        the run, the folder went away), write it to a fallback folder instead: a finished run is never
        lost. :attr:`Saved.in_results_dir` says which happened. A result trained on other data than this
        session's (a remote node's own copy of the workload that differs) is refused: it goes to the
        fallback folder, never into the session's results, and ``problem`` names both machines."""
        if result.workload_fingerprint != self.data().fingerprint:
            import socket

            problem = (f"refused: trained on other data than this session's: workload fingerprint "
                       f"{result.workload_fingerprint[:12]} on {result.ran_on}, {self.data().fingerprint[:12]} here on "
                       f"{socket.gethostname()}; give every node the same data (--data-dir on a shared path, or "
                       f"the same workload version)")
            saved = self._elsewhere(result, problem)
            self.saved.append(saved)
            return saved
        self.results.append(result)
        if self.progress is not None:
            self.progress.case_done(result)
        try:
            saved = Saved(store.write_result(result, self.results_dir), in_results_dir=True)
        except Exception as exc:  # OSError above all; a schema error must not lose the run either
            saved = self._elsewhere(result, f"{type(exc).__name__}: {exc}")
        self.saved.append(saved)
        return saved

    def _elsewhere(self, result: RunResult, problem: str) -> Saved:
        """``result`` kept outside the results folder: in the first fallback folder that takes it, or, when
        none does (a full disk holds them all), printed whole to the terminal (:attr:`last_resort`)."""
        try:
            return Saved(store.write_fallback(result, self.fallback_dirs()), in_results_dir=False, problem=problem)
        except OSError as exc:
            problem = f"{problem}; the fallback folders failed too ({exc.strerror or exc})"
            begin = print_document(result, self.last_resort)
            return Saved(None, in_results_dir=False, problem=problem, printed_as=begin)

    def fallback_dirs(self) -> list[Path]:
        """Where results go when the results folder cannot take them, in order of preference."""
        import tempfile

        return [self.cache_dir / "unsaved-results" / self.session_id,
                Path(tempfile.gettempdir()) / "recipebench-unsaved-results" / self.session_id]
