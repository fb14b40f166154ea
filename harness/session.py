"""A benchmark session: one workload, scale, device and set of seeds; every selected recipe x seed.

Used by the pytest plugin (:mod:`recipebench.pytest_plugin`); everything here is instance state.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from recipebench import store
from recipebench import weights as weights_mod
from recipebench.api import Arch, PreparedData, Recipe, WeightsFile, WorkloadRequest
from recipebench.cache import default_cache_dir
from recipebench.environment import (
    DeviceError,
    git_commit,
    is_cuda,
    resolve_device,
    versions,
)
from recipebench.files import sha256_file
from recipebench.options import Options, UsageError, coerce_option
from recipebench.registry import Registry, UnknownNameError, load_registry
from recipebench.results import RunResult
from recipebench.runner import PreparedRun, RunPlan, prepare


class WorkloadError(RuntimeError):
    """The workload's data or weights cannot be made ready; the message says what to do."""


class BenchSession:
    def __init__(self, options: Options, registry: Registry | None = None) -> None:
        self.options = options
        self.registry = registry if registry is not None else load_registry(options.plugins_dir)
        try:
            self.workload = self.registry.workload(options.workload)
            self.recipes: list[Recipe] = [self.registry.recipe(n) for n in options.recipes] or [
                r.item for r in self.registry.recipes.values()
            ]
            for name in (options.arch, options.deep_arch):
                if name is not None:
                    self.registry.arch(name)
        except UnknownNameError as exc:
            raise UsageError(str(exc)) from None
        try:
            self.device = resolve_device(options.device)
        except DeviceError as exc:
            raise UsageError(str(exc)) from None
        self.scale = self.workload.scales[options.scale or ("full" if is_cuda(self.device) else "quick")]
        self.recipe_options = {r.name: self._options_for(r) for r in self.recipes}
        self.cache_dir = Path(options.cache_dir) if options.cache_dir else default_cache_dir()
        self.session_id = store.new_session_id(self.workload.name, self.scale.name, self.device.type)
        self.code_state = git_commit()  # the code this session loaded, whatever the checkout becomes later
        self.versions = versions()  # likewise the packages it imported, whatever pip installs meanwhile
        self.results: list[RunResult] = []
        self.result_paths: list[Path] = []
        self._data: PreparedData | None = None
        self._weights: dict[str, WeightsFile | None] = {}
        self._dir: Path | None = None

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
        """(recipe, seed) for every run of the session, in order."""
        return [(r.name, s) for r in self.recipes for s in self.options.seeds]

    @property
    def results_dir(self) -> Path:
        """This session's folder under --results-dir (made on first use)."""
        if self._dir is None:
            self._dir = store.session_dir(Path(self.options.results_dir), self.session_id)
        return self._dir

    def data(self) -> PreparedData:
        """The workload's data, made ready once per session."""
        if self._data is None:
            request = WorkloadRequest(scale=self.scale, cache_dir=self.cache_dir, device=self.device,
                                      data_dir=self.options.data_dir, label_re=self.options.label_re)
            try:
                self._data = self.workload.prepare(request)
            except (OSError, ValueError, RuntimeError) as exc:
                raise WorkloadError(f"workload {self.workload.name!r}: {exc}") from exc
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

    def _resolve_weights(self, arch: Arch) -> WeightsFile | None:
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
                       data=self.data(), scale=self.scale, arch=arch, weights=self.weights_for(arch), seed=seed,
                       device=self.device, session_id=self.session_id, code_state=self.code_state,
                       versions=self.versions)

    def prepare(self, recipe_name: str, seed: int) -> PreparedRun:
        return prepare(self.plan(recipe_name, seed))

    def record(self, result: RunResult) -> Path:
        """Keep ``result`` and write it to the session folder."""
        path = store.write_result(result, self.results_dir)
        self.results.append(result)
        self.result_paths.append(path)
        return path
