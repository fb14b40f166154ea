"""A case's identity: everything that must match for a finished result to stand for a case of this session.

``--resume`` takes a finished result instead of training its case again only when
:meth:`CaseIdentity.from_result` of the document equals :meth:`CaseIdentity.from_plan` of the case: both
read their facts and build the identity with one function, :meth:`CaseIdentity.of`. :data:`IN_IDENTITY`
and :data:`NOT_IN_IDENTITY` say, for every session option, which fields carry it or why it is not there (a
test holds every option to one of them).
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from recipebench.data.datablock import labelling, split_description, training_split

if TYPE_CHECKING:  # pragma: no cover
    from recipebench.record.results import RunResult
    from recipebench.train.runner import RunPlan

#: The packages whose versions must match (a result records them all; these change what trains).
VERSIONS = ("python", "torch", "torchvision", "fastai", "fastcore", "recipebench")
#: How a result names the executor it ran under (``environment.executor.kind``; absent: here, locally).
LOCAL = "local"


@dataclass(frozen=True)
class CaseIdentity:
    """What a run was: the case, the data as trained on, the settings, the machine and the code's versions."""

    recipe: str
    seed: int
    workload: str
    workload_fingerprint: str  # the files: relative names and sizes
    labels: str | None  # how the classes are read from them (data.labelling); None: not recorded (schema < 6)
    split: str
    dropped_classes: tuple[str, ...]
    scale: str
    device: str  # "cpu" or "cuda"
    machine: str  # "<host>: <device name>" where the cases train here; "ray cluster" under --executor ray
    cases_per_node: int | None  # Ray on CPUs only (cases at once on a node); None elsewhere (it changes nothing)
    arch: str
    weights_sha256: str | None
    recipe_options: tuple[tuple[str, Any], ...]  # sorted items
    precision_requested: str
    deterministic: bool | None  # torch's deterministic algorithms (--deterministic); None: not recorded
    versions: tuple[tuple[str, str | None], ...]  # those of VERSIONS, in that order
    evaluations: tuple[str, ...] = ()  # the registered evaluations run on its weights (--evaluate), in order
    #: The metrics it is measured by (every registered one: a metric plugin added since makes the case new).
    metrics: tuple[str, ...] = ()

    @classmethod
    def of(cls, *, recipe: str, seed: int, workload: str, workload_fingerprint: str, labels: str | None, split: str,
           dropped_classes: Iterable[str], scale: str, device: str, host: str, device_name: str, executor_kind: str,
           cases_per_node: int | None, arch: str, weights_sha256: str | None, recipe_options: Mapping[str, Any],
           precision_requested: str, deterministic: bool | None, versions: Mapping[str, str | None],
           evaluations: Iterable[str] = (), metrics: Iterable[str] = ()) -> CaseIdentity:
        """The one definition of a case's identity, from what a plan (:meth:`from_plan`) or a result document
        (:meth:`from_result`) says of it: where it trained (:func:`machine`), the cases at once on a node
        (counted on Ray CPUs only: it changes nothing elsewhere), the recipe options sorted, the versions of
        :data:`VERSIONS` only."""
        return cls(
            recipe=recipe, seed=seed, workload=workload, workload_fingerprint=workload_fingerprint, labels=labels,
            split=split, dropped_classes=tuple(dropped_classes), scale=scale, device=device,
            machine=machine(executor_kind, host, device_name),
            cases_per_node=cases_per_node if executor_kind != LOCAL and device == "cpu" else None,
            arch=arch, weights_sha256=weights_sha256, recipe_options=tuple(sorted(recipe_options.items())),
            precision_requested=precision_requested,
            deterministic=None if deterministic is None else bool(deterministic),
            versions=tuple((k, versions.get(k)) for k in VERSIONS), evaluations=tuple(evaluations),
            metrics=tuple(metrics))

    @classmethod
    def from_plan(cls, plan: RunPlan, executor: str, cases_per_node: int) -> CaseIdentity:
        """The identity of the case ``plan`` trains, under ``executor`` (--executor) with ``cases_per_node``."""
        from recipebench.record.environment import device_name

        data = plan.data
        return cls.of(
            recipe=plan.recipe.name, seed=plan.seed, workload=plan.workload, workload_fingerprint=data.fingerprint,
            labels=labelling(data), split=split_description(training_split(data)),
            dropped_classes=data.dropped_classes, scale=plan.scale.name, device=plan.device.type,
            host=socket.gethostname(), device_name=device_name(plan.device),
            executor_kind=LOCAL if executor == LOCAL else "ray", cases_per_node=cases_per_node,
            arch=plan.arch.name, weights_sha256=plan.weights.sha256 if plan.weights else None,
            recipe_options=plan.recipe_options, precision_requested=plan.recipe.precision,
            deterministic=bool(plan.deterministic), versions=plan.versions,
            evaluations=tuple(e.name for e in plan.evaluations), metrics=tuple(m.name for m in plan.metrics))

    @classmethod
    def from_result(cls, result: RunResult) -> CaseIdentity:
        """The identity of the case ``result`` ran, as its document records it."""
        env = result.environment
        node = env.get("executor") if isinstance(env.get("executor"), Mapping) else {}
        return cls.of(
            recipe=result.recipe, seed=result.seed, workload=result.workload,
            workload_fingerprint=result.workload_fingerprint, labels=result.config.labels, split=result.config.split,
            dropped_classes=result.dropped_classes, scale=result.scale, device=result.device,
            host=str(env.get("host")), device_name=result.device_name, executor_kind=node.get("kind", LOCAL),
            cases_per_node=node.get("cases_per_node"), arch=result.config.arch,
            weights_sha256=result.weights.sha256, recipe_options=result.recipe_options,
            precision_requested=result.precision_requested, deterministic=env.get("deterministic_algorithms"),
            versions=result.versions, evaluations=result.config.evaluations,
            metrics=tuple(m.name for m in result.metrics))


def machine(executor_kind: str, host: str, device_name: str) -> str:
    """Where a case trains, as its identity names it: this host and its device (timings are the machine's),
    or, for cases that Ray places on any node of a cluster, the cluster (each result names its node)."""
    return f"{host}: {device_name}" if executor_kind == LOCAL else f"{executor_kind} cluster"


#: Each option that is part of a case's identity, with the fields of :class:`CaseIdentity` that carry it.
IN_IDENTITY: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "workload": ("workload",),
    "scale": ("scale",),
    "seeds": ("seed",),
    "recipes": ("recipe",),
    "device": ("device", "machine"),
    "data_dir": ("workload_fingerprint",),
    "label_re": ("labels",),
    "labels": ("labels",),
    "split": ("split",),
    "drop_small_classes": ("dropped_classes",),
    "arch": ("arch",),
    "deep_arch": ("arch",),
    "weights": ("weights_sha256",),
    "recipe_options": ("recipe_options",),
    "deterministic": ("deterministic",),
    "cases_per_node": ("cases_per_node",),
    "evaluations": ("evaluations",),
})
#: Each option that is not part of a case's identity, and why.
NOT_IN_IDENTITY: Mapping[str, str] = MappingProxyType({
    "results_dir": "where documents go: --resume looks there for them, it does not change a run",
    "suite": "chooses which recipes run, as --recipe does; the recipe is in the identity",
    "plugins_dir": "makes recipes available; a case is its recipe's name and options (the code itself, like "
                   "the git commit, is not compared: each document records its own)",
    "cache_dir": "where data and weights are kept; what they are is in the identity (workload_fingerprint, "
                 "weights_sha256)",
    "cpu_bf16": "decides whether a mixed-precision case trains on a CPU at all, not how it trains "
                "(precision_requested is in the identity)",
    "resume": "asks for this comparison; it changes no run",
    "reference": "shapes the session table only (`recipebench table` takes it too), not a run",
    "target_error": "shapes the session table only (`recipebench table` takes it too), not a run",
    "outputs": "where the results go after the runs (summary.md, a tracker), not what a run does",
    "output_options": "settings of the outputs (where a tracker writes), not of a run",
    "metric": "shapes the session table only (`recipebench table` takes it too), not a run",
    "executor": "where cases train: what changes their timings, the machine and --cases-per-node, is in the "
                "identity (machine: this host, or a Ray cluster)",
})
