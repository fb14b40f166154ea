"""Planning a session: which recipes, scale, device and recipe options it runs, its cases, and their estimate.

:meth:`Selection.from_options` checks every name an option gives (workload, recipes, suite, archs,
--reference, --recipe-option, device) before anything is prepared, with one-line usage errors.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

from recipebench.analysis.rows import OUTCOME_SEP
from recipebench.api import Arch, Evaluation, PreparedData, Recipe, Scale, Workload
from recipebench.record.environment import DeviceError, is_cuda, resolve_device
from recipebench.registry import Registry, UnknownNameError
from recipebench.suite.options import Options, UsageError, coerce_option

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from recipebench.suite.progress import SuiteClock

#: Why a mixed-precision recipe does not run on a CPU without native bfloat16 (the table and pytest say it).
NO_NATIVE_BF16 = ("skipped: no native bfloat16 on this CPU; about 20x slower; `--cpu-bf16 always` to run it "
                  "anyway")

Case = tuple[str, int]  # (recipe name, seed)


@dataclass(frozen=True)
class Selection:
    """What a session runs, every name checked: the workload, recipes, scale, device and each recipe's options."""

    options: Options
    registry: Registry
    workload: Workload
    recipes: tuple[Recipe, ...]
    scale: Scale
    device: torch.device
    recipe_options: Mapping[str, Mapping[str, Any]]  # recipe name -> its options, --recipe-option applied

    @classmethod
    def from_options(cls, options: Options, registry: Registry) -> Selection:
        """The selection ``options`` ask for; :class:`UsageError` naming the option when a name is unknown."""
        try:
            workload = registry.workload(options.workload)
            recipes = tuple(registry.recipe(n) for n in options.recipes) or tuple(
                r.item for r in registry.recipes.values() if options.suite in ("all", r.item.suite))
            for name in (options.arch, options.deep_arch):
                if name is not None:
                    registry.arch(name)
        except UnknownNameError as exc:
            raise UsageError(str(exc)) from None
        if not recipes:
            suites = sorted({r.item.suite for r in registry.recipes.values()})
            raise UsageError(f"--suite {options.suite}: no recipe is in that suite (suites: {', '.join(suites)}, all)")
        if options.metric is not None and options.metric not in registry.metrics:
            raise UsageError(f"--metric {options.metric}: not a registered metric; choose one of "
                             f"{', '.join(registry.metrics)}")
        for name in options.evaluations:
            try:
                registry.evaluation(name)
            except UnknownNameError as exc:
                raise UsageError(f"--evaluate {name}: {exc}") from None
        for recipe in recipes:
            for name in recipe.evaluations:
                if name not in registry.evaluations:
                    known = ", ".join(registry.evaluations) or "none"
                    raise UsageError(f"recipe {recipe.name!r} asks for evaluation {name!r}; registered evaluations: "
                                     f"{known}")
        if options.reference is not None:  # a typo found now, not under the table at the end of the suite
            try:
                registry.recipe(options.reference.split(OUTCOME_SEP)[0])
            except UnknownNameError as exc:
                raise UsageError(f"--reference {options.reference}: {exc}") from None
        try:
            device = resolve_device(options.device)
        except DeviceError as exc:
            raise UsageError(str(exc)) from None
        scale = workload.scales[options.scale or ("full" if is_cuda(device) else "quick")]
        chosen = {r.name: recipe_options_for(r, options) for r in recipes}
        for name, given in options.recipe_options.items():  # a typo in a recipe's name, or in one not run now
            if name in chosen:
                continue  # checked just above
            try:
                recipe_options_for(registry.recipe(name), options)
            except UnknownNameError as exc:
                key, value = next(iter(given.items()))
                raise UsageError(f"--recipe-option {name}.{key}={value}: {exc}") from None
        return cls(options, registry, workload, recipes, scale, device, MappingProxyType(chosen))

    def evaluations_for(self, recipe: Recipe) -> tuple[Evaluation, ...]:
        """What runs on ``recipe``'s final weights besides the plain validation: the evaluations it asks for,
        then those of --evaluate, each once."""
        names = dict.fromkeys([*recipe.evaluations, *self.options.evaluations])
        return tuple(self.registry.evaluation(name) for name in names)

    def cases(self) -> list[Case]:
        """(recipe, seed) for every run of the session, seed-major: every recipe for the first seed,
        then every recipe for the next, so that a machine's drift during a session is spread over all
        recipes instead of lining up with one of them."""
        return [(r.name, s) for s in self.options.seeds for r in self.recipes]

    def arch_for(self, recipe: Recipe) -> Arch:
        """The architecture ``recipe`` trains: the scale's (or --arch), or its deeper one (or --deep-arch)."""
        if recipe.arch_role == "deep":
            return self.registry.arch(self.options.deep_arch or self.scale.deep_arch)
        return self.registry.arch(self.options.arch or self.scale.arch)

    def skip_reason(self, recipe: Recipe, bf16: Mapping[str, Any]) -> str | None:
        """Why ``recipe`` does not train in this session, or None: on a CPU, a mixed-precision recipe
        runs where the CPU has native bfloat16 kernels (``bf16["native"]``, ``--cpu-bf16 auto``), always,
        or never."""
        if recipe.precision != "mixed" or is_cuda(self.device) or self.options.cpu_bf16 == "always":
            return None
        if self.options.cpu_bf16 == "never":
            return "skipped: --cpu-bf16 never (mixed precision is bf16 on a CPU)"
        return None if bf16["native"] else NO_NATIVE_BF16

    def device_label(self) -> str:
        """The device as the plan line names it: ``cpu, AMD EPYC (2 threads)``, ``cuda:0, NVIDIA H200``."""
        from recipebench.record.environment import device_name

        return f"{self.device}, {device_name(self.device)}"

    def suite_clock(self, cases: list[Case], data: PreparedData) -> SuiteClock:
        """The arithmetic of the live progress for ``cases``: each case's epochs from a dry run of its
        recipe, an lr_find counted as its iterations over the batches of an epoch of ``data``."""
        from recipebench.suite.progress import PlannedCase, SuiteClock
        from recipebench.train import dryrun

        planned = []
        for name, seed in cases:
            recipe = self.registry.recipe(name)
            work = dryrun.plan(recipe, self.scale, self.recipe_options[name])
            planned.append(PlannedCase(name, seed, f"{self.arch_for(recipe).name}/{recipe.precision}",
                                       work.epochs if work else None, work.lr_finds if work else 0))
        train = sum(t for t, _ in data.class_counts.values()) or int(data.n_files * 0.8)
        batches = max(train // self.scale.batch_size, 1)
        return SuiteClock(planned, lr_find_epochs=min((self.scale.lr_find_num_it or 100) / batches, 20.0))


def recipe_options_for(recipe: Recipe, options: Options) -> dict[str, Any]:
    """``recipe``'s options: its defaults with --recipe-option applied, each converted and checked."""
    given = options.recipe_options.get(recipe.name, {})
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
