"""Set-up checks: the data, each architecture's weights (checked to fit) and the warm-up, ready before a case trains."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, Iterable

from recipebench.api import Arch, PreparedData, WeightsFile, WorkloadRequest
from recipebench.data.checks import class_report
from recipebench.record.atomic import sha256_file
from recipebench.suite.options import UsageError
from recipebench.suite.planning import Selection
from recipebench.train import weights as weights_mod
from recipebench.train.measure import warm_up
from recipebench.train.runner import PreparedRun, RunPlan, prepare

#: A stage of the set-up: its name as the set-up's progress shows it, and what it does.
Stage = tuple[str, Callable[[], Any]]


class SetupError(RuntimeError):
    """A run cannot be set up (data, weights, device); the message names the file or option and what to do."""


class WorkloadError(SetupError):
    """The workload's data or weights cannot be made ready; the message says what to do."""


class SessionInputs:
    """What every case of a session trains from, made ready once: the data, the weights per architecture,
    and the untimed warm-up. ``say``: where the data's classes and split are reported, once (None: nowhere)."""

    def __init__(self, selection: Selection, cache_dir: Path, say: Callable[[str], None] | None = None) -> None:
        self.selection, self.cache_dir, self.say = selection, cache_dir, say
        self._data: PreparedData | None = None
        self._weights: dict[str, WeightsFile | None] = {}
        self.warm_up_s: float | None = None  # seconds of the session's untimed warm-up, once done

    def data(self, progress: Callable[[int, int, str], None] | None = None) -> PreparedData:
        """The workload's data, made ready once per session (``progress``: told how the making goes, and
        how the pretraining of the workload's own weights goes later)."""
        if self._data is None:
            o, s = self.selection.options, self.selection
            request = WorkloadRequest(scale=s.scale, cache_dir=self.cache_dir, device=s.device,
                                      data_dir=o.data_dir, label_re=o.label_re, labels=o.labels, split=o.split,
                                      drop_small_classes=o.drop_small_classes, progress=progress)
            try:
                self._data = s.workload.prepare(request)
            except (OSError, ValueError, RuntimeError) as exc:
                raise WorkloadError(f"workload {s.workload.name!r}: {exc}") from exc
            if self.say is not None:
                for line in class_report(self._data):
                    self.say(line)
        return self._data

    def weights_for(self, arch: Arch) -> WeightsFile | None:
        """The pretrained weights for ``arch`` per --weights (made or found once per session)."""
        if arch.name not in self._weights:
            self._weights[arch.name] = self._resolve_weights(arch)
        return self._weights[arch.name]

    def stages(self, recipe_names: Iterable[str], warm_up_here: bool = True, setup=None) -> list[Stage]:
        """What :meth:`check` still has to do, as (name, do) stages in order: the workload's data,
        each needed architecture's weights, the warm-up (``setup``: told each stage's progress)."""
        s = self.selection
        step = setup.step if setup is not None else None
        archs: dict[str, tuple[Arch, set[str]]] = {}  # arch name -> (arch, the precisions it trains in)
        pretrained: set[str] = set()  # the archs some recipe loads weights for
        for name in dict.fromkeys(recipe_names):
            recipe = s.registry.recipe(name)
            arch = s.arch_for(recipe)
            archs.setdefault(arch.name, (arch, set()))[1].add(recipe.precision)
            if recipe.weights != "none":
                pretrained.add(arch.name)
        stages: list[Stage] = []
        if self._data is None:
            stages.append((f"workload {s.workload.name} ({s.scale.name})", lambda: self.data(progress=step)))
        for name, (arch, _) in archs.items():
            if name not in self._weights and name in pretrained:
                stages.append((f"weights for {name}", lambda arch=arch: self.weights_for(arch)))
        if self.warm_up_s is None and warm_up_here:  # untimed, before the first case: one pass per arch and precision
            jobs = [(arch.build, precision) for arch, precisions in archs.values() for precision in sorted(precisions)]

            def warm() -> None:
                self.warm_up_s = warm_up(s.device, jobs, s.scale.batch_size, s.scale.image_size)
            stages.append(("warm-up", warm))
        return stages

    def check(self, recipe_names: Iterable[str], warm_up_here: bool = True, setup=None) -> None:
        """Make the data and every needed architecture's weights ready now, before anything trains, so
        that a problem with them ends the session at once with a message (:class:`SetupError`,
        :class:`UsageError`) instead of in the middle of the suite. ``warm_up_here``: False where the
        cases train elsewhere (each remote worker warms up before its case). ``setup``: a
        :class:`recipebench.suite.progress.SetupProgress` that shows each stage of :meth:`stages`."""
        for name, do in self.stages(recipe_names, warm_up_here, setup):
            with setup.stage(name) if setup is not None else contextlib.nullcontext():
                do()

    def _resolve_weights(self, arch: Arch) -> WeightsFile | None:
        weights = self._find_weights(arch)
        if weights is not None:
            from recipebench.train.learner import WeightsError, load_body_weights, read_state_dict

            try:  # a file that does not fit is found now, not when the first recipe builds its Learner
                load_body_weights(arch.build(), read_state_dict(weights.path), arch, origin=str(weights.path))
            except WeightsError as exc:
                raise WorkloadError(f"--weights {self.selection.options.weights}: {exc}. Pass a torchvision-style "
                                    f"state dict of {arch.name} (--arch to choose another architecture), or "
                                    f"--weights none") from None
        return weights

    def _find_weights(self, arch: Arch) -> WeightsFile | None:
        data = self.data()
        asked = self.selection.options.weights
        choice = data.default_weights if asked == "auto" else asked
        if choice == "none":
            return None
        source = data.weight_sources.get(choice) or weights_mod.source_for(choice)
        if source is not None:
            try:
                return source(arch)
            except (OSError, ValueError, RuntimeError) as exc:
                given = asked if choice == asked else f"auto (here: {choice})"
                raise WorkloadError(f"--weights {given} for {arch.name}: {exc}") from exc
        path = Path(choice).expanduser()
        if path.is_file():
            return WeightsFile(source="file", path=path.resolve(), sha256=sha256_file(path))
        sources = ", ".join(["none", "imagenet[:VERSION]", *data.weight_sources, "PATH"])
        raise UsageError(f"--weights {asked!r}: not a file, and workload {self.selection.workload.name!r} "
                         f"offers no such weight source (choose from: {sources})")


def prepare_run(plan: RunPlan, weights_option: str, progress=None) -> PreparedRun:
    """The run of ``plan`` prepared: data, weights and Learner ready, ``progress`` (a
    :class:`~recipebench.train.runner.RunObserver`) following it. Problems with them raise :class:`SetupError`
    naming the recipe and the file or option at fault (``weights_option``: --weights)."""
    from recipebench.data.checks import DataError
    from recipebench.train.learner import WeightsError

    name = plan.recipe.name
    try:
        return prepare(plan, observer=progress)
    except (WeightsError, DataError, OSError) as exc:
        used = "none" if plan.recipe.weights == "none" else weights_option
        raise SetupError(f"recipe {name} ({plan.arch.name}, weights {used}): {exc}") from exc
    except RuntimeError as exc:
        if type(exc).__name__ != "OutOfMemoryError":  # torch.OutOfMemoryError: the device is too small
            raise
        raise SetupError(f"recipe {name}: {plan.device} ran out of memory building the Learner "
                         f"({plan.arch.name}, batch size {plan.scale.batch_size}); try a smaller --scale") from exc
