"""The plugin manager and the registry it builds.

Three sources of plugins, all registered the same way (``PluginManager.register``):

1. the built-ins listed in :data:`BUILTIN_PLUGINS` (modules of ``recipebench.plugins``),
2. modules named by entry points in the group ``recipebench`` of any installed distribution::

       [project.entry-points.recipebench]
       my_recipes = "my_package.recipes"

3. every ``*.py`` file in ``--plugins-dir DIR`` (for quick local experiments).
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Generic, Mapping, TypeVar

import pluggy

from recipebench import hookspecs
from recipebench.api import HOOK_NAMESPACE, Arch, Evaluation, Metric, Output, Recipe, Workload

#: Built-in plugins, registered exactly as outside plugins are.
BUILTIN_PLUGINS = (
    "recipebench.plugins.metrics",
    "recipebench.plugins.archs",
    "recipebench.plugins.synthetic",
    "recipebench.plugins.pets",
    "recipebench.plugins.folder",
    "recipebench.plugins.imagenette",
    "recipebench.plugins.baseline",
    "recipebench.plugins.lr_find_tuned",
    "recipebench.plugins.freeze_unfreeze",
    "recipebench.plugins.discriminative_lr",
    "recipebench.plugins.resnet50_mixed_precision",
    "recipebench.plugins.early_stopping_contrast",
    "recipebench.plugins.xresnet_scratch",
    "recipebench.plugins.label_smoothing",
    "recipebench.plugins.mixup",
    "recipebench.plugins.progressive_resizing",
    "recipebench.plugins.tta",
    "recipebench.plugins.outputs",
    "recipebench.plugins.mlflow_export",
    "recipebench.plugins.tensorboard_export",
)

T = TypeVar("T", Recipe, Workload, Arch, Metric, Output, Evaluation)


class PluginError(Exception):
    """A plugin could not be loaded or registered something invalid."""


class DuplicateNameError(PluginError):
    """Two plugins registered the same recipe, workload, arch, metric, evaluation or output name."""


class UnknownNameError(KeyError):
    """A recipe, workload, arch, metric, evaluation or output name that no plugin registered."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


@dataclass(frozen=True)
class Registered(Generic[T]):
    """An item and the plugin that registered it."""

    item: T
    plugin: str  # plugin name as the manager knows it
    origin: str  # where it came from: "built-in", "entry point (dist 1.0)", or a file path


class BoundRegister(Generic[T]):
    """The :class:`recipebench.api.Register` handed to a hook, bound to one plugin and one kind of item."""

    def __init__(self, kind: str, plugin: str, origin: str, into: dict[str, Registered[T]]) -> None:
        self._kind, self._plugin, self._origin, self._into = kind, plugin, origin, into

    def __call__(self, item: T) -> T:
        expected = {"recipe": Recipe, "workload": Workload, "arch": Arch, "metric": Metric, "output": Output,
                    "evaluation": Evaluation}[self._kind]
        if not isinstance(item, expected):
            article = "an" if self._kind[0] in "aeiou" else "a"
            raise PluginError(f"plugin {self._plugin!r} registered {item!r} as {article} {self._kind}; expected "
                              f"{article} {expected.__name__}")
        previous = self._into.get(item.name)
        if previous is not None:
            raise DuplicateNameError(
                f"{self._kind} {item.name!r} is registered twice: by plugin {previous.plugin!r} "
                f"({previous.origin}) and by plugin {self._plugin!r} ({self._origin}); rename one of them"
            )
        self._into[item.name] = Registered(item, self._plugin, self._origin)
        return item


@dataclass(frozen=True)
class Registry:
    """Everything the plugins registered, by name, in registration order."""

    recipes: Mapping[str, Registered[Recipe]]
    workloads: Mapping[str, Registered[Workload]]
    archs: Mapping[str, Registered[Arch]]
    outputs: Mapping[str, Registered[Output]]
    evaluations: Mapping[str, Registered[Evaluation]]
    #: In registration order: the built-in plugin's first (error_rate, valid_loss, top_5_error).
    metrics: Mapping[str, Registered[Metric]] = field(default_factory=lambda: MappingProxyType({}))

    def recipe(self, name: str) -> Recipe:
        return _lookup(self.recipes, "recipe", name)

    def workload(self, name: str) -> Workload:
        return _lookup(self.workloads, "workload", name)

    def arch(self, name: str) -> Arch:
        return _lookup(self.archs, "arch", name)

    def output(self, name: str) -> Output:
        return _lookup(self.outputs, "output", name)

    def evaluation(self, name: str) -> Evaluation:
        return _lookup(self.evaluations, "evaluation", name)

    def metric(self, name: str) -> Metric:
        return _lookup(self.metrics, "metric", name)

    @property
    def all_metrics(self) -> tuple[Metric, ...]:
        """Every registered metric, in registration order."""
        return tuple(r.item for r in self.metrics.values())


def _lookup(table: Mapping[str, Registered[T]], kind: str, name: str) -> T:
    try:
        return table[name].item
    except KeyError:
        known = ", ".join(table) or "none"
        raise UnknownNameError(f"unknown {kind} {name!r}; registered {kind}s: {known}") from None


def get_plugin_manager(plugins_dir: Path | None = None) -> pluggy.PluginManager:
    """A plugin manager with the hook specs, the built-ins, entry-point plugins and ``plugins_dir``."""
    pm = pluggy.PluginManager(HOOK_NAMESPACE)
    pm.add_hookspecs(hookspecs)
    for module_name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    _load_entry_points(pm)
    if plugins_dir is not None:
        load_plugins_dir(pm, plugins_dir)
    return pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    for ep in importlib.metadata.entry_points(group=HOOK_NAMESPACE):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown distribution"
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(f"cannot load plugin {ep.name!r} ({ep.value}) from {dist}: {exc}") from exc
        pm.register(plugin, name=ep.name)
        plugin.__recipebench_origin__ = f"entry point of {dist}"


def load_plugins_dir(pm: pluggy.PluginManager, plugins_dir: Path) -> list[ModuleType]:
    """Import and register every ``*.py`` file in ``plugins_dir`` (sorted by name)."""
    plugins_dir = Path(plugins_dir)
    if not plugins_dir.is_dir():
        raise PluginError(f"--plugins-dir {plugins_dir}: not a directory")
    modules = []
    for path in sorted(plugins_dir.glob("*.py")):
        module_name = f"recipebench_local_plugins.{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:  # pragma: no cover - only for odd file systems
            raise PluginError(f"cannot import plugin file {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise PluginError(f"plugin file {_where(path, exc)}: {_one_line(exc, path)} (the file failed to import)") \
                from None
        module.__recipebench_origin__ = str(path)
        pm.register(module, name=str(path))
        modules.append(module)
    return modules


def _where(path: Path, exc: BaseException) -> str:
    """``path:line``: where in the plugin file ``path`` importing it failed (the line of the file's own
    code that was running, or of a syntax error in it); just ``path`` when the line is unknown."""
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename) == path and exc.lineno:
        return f"{path}:{exc.lineno}"
    lines = [line for frame, line in traceback.walk_tb(exc.__traceback__) if Path(frame.f_code.co_filename) == path]
    return f"{path}:{lines[-1]}" if lines else str(path)


def _one_line(exc: BaseException, path: Path) -> str:
    """``Type: message`` on one line; a syntax error in another file (one the plugin imports) names it."""
    if isinstance(exc, SyntaxError):
        elsewhere = exc.filename and Path(exc.filename) != path
        return f"{type(exc).__name__}: {exc.msg}" + (f" (in {exc.filename}:{exc.lineno})" if elsewhere else "")
    return f"{type(exc).__name__}: " + " ".join(str(exc).split())


def _origin(name: str, plugin: object) -> str:
    return getattr(plugin, "__recipebench_origin__", "built-in" if name in BUILTIN_PLUGINS else "registered by hand")


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call each ``recipebench_add_*`` hook once per plugin, with a ``register`` bound to that plugin."""
    tables: dict[str, dict[str, Registered]] = {"metric": {}, "arch": {}, "workload": {}, "recipe": {}, "output": {},
                                                "evaluation": {}}
    hooks = {"metric": "recipebench_add_metrics", "arch": "recipebench_add_archs",
             "workload": "recipebench_add_workloads", "recipe": "recipebench_add_recipes",
             "output": "recipebench_add_outputs", "evaluation": "recipebench_add_evaluations"}
    plugins = pm.list_name_plugin()
    for kind, hook_name in hooks.items():
        for name, plugin in plugins:
            others = [p for _, p in plugins if p is not plugin]
            caller = pm.subset_hook_caller(hook_name, remove_plugins=others)
            try:
                caller(register=BoundRegister(kind, name, _origin(name, plugin), tables[kind]))
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(f"plugin {name!r} failed in {hook_name}: {type(exc).__name__}: {exc}") from exc
    return Registry(
        recipes=MappingProxyType(tables["recipe"]),
        workloads=MappingProxyType(tables["workload"]),
        archs=MappingProxyType(tables["arch"]),
        outputs=MappingProxyType(tables["output"]),
        evaluations=MappingProxyType(tables["evaluation"]),
        metrics=MappingProxyType(tables["metric"]),
    )


def load_registry(plugins_dir: Path | None = None) -> Registry:
    """The registry of the built-ins, installed entry-point plugins and ``plugins_dir``."""
    return build_registry(get_plugin_manager(plugins_dir))
