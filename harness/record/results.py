"""The result of one run, as frozen dataclasses with units in their names.

One :class:`RunResult` is written per recipe x seed as a JSON document that follows
``harness/record/schema/result.schema.json`` (``schema_version`` :data:`SCHEMA_VERSION`).
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping

from recipebench.api import MetricSpec

SCHEMA_VERSION = 9
STATUS_OK = "ok"
STATUS_ERROR = "error"  # the recipe raised: the traceback is in ``error``
STATUS_DIVERGED = "diverged"  # the training loss went non-finite or exploded: see ``divergence``
STATUSES = (STATUS_OK, STATUS_ERROR, STATUS_DIVERGED)


def _freeze(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, Mapping):
            object.__setattr__(obj, name, MappingProxyType(dict(value)))
        elif isinstance(value, list):
            object.__setattr__(obj, name, tuple(value))


@dataclass(frozen=True)
class EpochRecord:
    """One epoch as fastai's Recorder saw it, plus the harness's timing."""

    epoch: int  # 1-based, counted over the whole run (or outcome)
    phase: str  # "frozen" (body frozen) or "unfrozen"
    fit: int  # 1-based index of the training call (fit / fit_one_cycle / ...) it belonged to
    train_loss: float | None  # fastai's smoothed training loss at the end of the epoch
    valid_loss: float | None
    error_rate: float | None
    wall_s: float  # the whole epoch: training and validation
    train_s: float  # the training part only
    train_samples: int  # images seen in training
    #: From the start of the recipe (of an outcome: of its first stage) to the end of this epoch's
    #: validation, everything the recipe did included (lr_find, unfreeze, ...): the clock of
    #: time-to-accuracy. None in documents written before schema 5.
    elapsed_s: float | None = None
    #: The raw training loss of each batch of the epoch, in order, to 4 significant digits; an epoch of
    #: more than :data:`MAX_BATCH_LOSSES` batches keeps the means of that many equal runs of batches.
    #: Empty in documents written before schema 5.
    batch_losses: tuple[float, ...] = ()
    #: px, the side of the images its training batches held (aug_transforms(size=N) makes them N x N;
    #: ``ctx.dataloaders(image_size=)`` changes it between phases). None before schema 7.
    image_size: int | None = None
    #: Images per training batch of its DataLoaders. None before schema 7.
    batch_size: int | None = None
    #: Every metric the run measured (:attr:`RunResult.metrics`), as fastai's Recorder saw it at the end of the
    #: epoch's validation; None where the Recorder had no value. Schema 8 on (older: error_rate and valid_loss).
    metrics: Mapping[str, float | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self, "batch_losses", "metrics")


#: At most this many per-batch training losses are kept per epoch (a full-scale Pets epoch has 93).
MAX_BATCH_LOSSES = 100


def compact_losses(losses, max_points: int = MAX_BATCH_LOSSES) -> tuple[float, ...]:
    """Per-batch losses as stored: finite values, at most ``max_points`` (means of equal runs of
    consecutive batches beyond that), each to 4 significant digits."""
    xs = [float(v) for v in losses if math.isfinite(float(v))]
    if len(xs) > max_points:
        bounds = [round(i * len(xs) / max_points) for i in range(max_points + 1)]
        xs = [sum(xs[a:b]) / (b - a) for a, b in zip(bounds, bounds[1:])]
    return tuple(float(f"{v:.4g}") for v in xs)


@dataclass(frozen=True)
class LrFindRecord:
    """One ``lr_find`` call: its suggestions and the curve it measured."""

    suggestions: Mapping[str, float]  # e.g. {"minimum": 1e-2, "steep": 5e-3}; "minimum" is already /10
    num_it: int
    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    wall_s: float

    def __post_init__(self) -> None:
        _freeze(self, "suggestions", "lrs", "losses")


@dataclass(frozen=True)
class CallRecord:
    """A training call the recipe made on its Learner (top-level only, JSON-safe arguments)."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self, "args", "kwargs")


@dataclass(frozen=True)
class SkippedCase:
    """A recipe x seed of a session that did not train there, and why (a row of the session's table)."""

    recipe: str
    seed: int
    reason: str  # e.g. "skipped: no native bfloat16 on this CPU; ..."


@dataclass(frozen=True)
class Divergence:
    """Where a run's training diverged, and why the harness stopped it there."""

    epoch: int  # 1-based over the run, the epoch in progress
    batch: int  # 1-based within that epoch's training
    loss: float | None  # the training batch loss (None: not finite)
    reason: str  # e.g. "training loss nan", "training loss 8.5e+09 > 100 x ln(6 classes) = 179"


@dataclass(frozen=True)
class ConfusedPair:
    actual: str
    predicted: str
    count: int


@dataclass(frozen=True)
class Outcome:
    """A named sub-result of a run (e.g. one arm of a contrast), measured like a whole run."""

    name: str
    error_rate: float | None  # of the weights held at the end of the outcome (re-validated)
    best_error_rate: float | None
    best_epoch: int | None  # 1-based within the outcome's epochs
    wall_s: float
    samples_per_s: float | None  # training images per second
    epochs: tuple[EpochRecord, ...]
    #: Each metric of the weights held at the end of the outcome (re-validated), as :attr:`RunResult.final_metrics`.
    final_metrics: Mapping[str, float | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self, "epochs", "final_metrics")


@dataclass(frozen=True)
class EvaluationResult:
    """A registered evaluation (:class:`recipebench.api.Evaluation`, e.g. ``tta``) of a run's final weights or of
    an outcome's, run and timed by the harness after the recipe: a row of its own (``recipe > tta``)."""

    name: str  # the evaluation's
    outcome: str | None  # the outcome whose weights it evaluated; None: the run's final weights
    error_rate: float | None  # from its predictions over the validation set; None: it did not run, or raised
    inference_s: float | None  # its wall time (CUDA-synchronised), apart from the run's wall_s; None: not run
    error: str | None = None  # why it has no error rate: its traceback, or "not run: ..."


@dataclass(frozen=True)
class Config:
    """The run's settings: identical for every recipe of a session except ``arch``."""

    arch: str
    presize: int  # px
    image_size: int  # px
    batch_size: int
    scale: str
    num_workers: int
    max_epochs_per_fit: int | None
    lr_find_num_it: int | None
    valid_pct: float | None  # the random split's; None for a folders split
    split_seed: int | None  # likewise
    #: The split trained on: "random(valid_pct=0.2, seed=42)" (the chapter's) or the folder's own,
    #: "folders(train=train, valid=valid)".
    split: str
    #: How the classes were read from the files (:func:`recipebench.data.datablock.labelling`): "top-level folders",
    #: "parent folders" or "file names by '<regex>'". None in documents written before schema 6.
    labels: str | None = None
    #: The class of the loss function the harness built the Learner with: ``Recipe.loss_func``'s, else the
    #: DataLoaders' default ("CrossEntropyLossFlat"). None: the run never built its Learner.
    loss_func: str | None = None
    #: The classes of the callbacks the harness built the Learner with from ``Recipe.cbs`` (its own
    #: measuring callbacks not counted). None: the run never built its Learner.
    callbacks: tuple[str, ...] | None = None
    #: The registered evaluations asked for besides the plain validation (``Recipe.evaluations``, then
    #: ``--evaluate``), in the order they ran; empty before schema 9.
    evaluations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _freeze(self, "callbacks", "evaluations")


@dataclass(frozen=True)
class WeightsInfo:
    """Which pretrained weights the body really started from."""

    source: str  # "synthetic-source", "imagenet", "file", "none"
    arch: str
    path: str | None
    sha256: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self, "detail")


@dataclass(frozen=True)
class RunResult:
    """Everything recorded about one recipe x seed run."""

    schema_version: int
    run_id: str
    session_id: str
    created_utc: str
    status: str  # "ok", "error" or "diverged" (STATUSES)
    error: str | None
    recipe: str
    recipe_plugin: str
    recipe_options: Mapping[str, Any]
    workload: str
    workload_fingerprint: str
    scale: str
    seed: int
    device: str  # "cpu" or "cuda"
    device_name: str
    precision: str  # what really ran: "fp32", "fp16" or "bf16"
    precision_requested: str  # what the recipe asked for: "fp32" or "mixed"
    weights: WeightsInfo
    config: Config
    n_classes: int
    n_train: int
    n_valid: int
    error_rate: float | None  # final: the weights held at the end, re-validated
    best_error_rate: float | None  # lowest per-epoch error_rate
    best_epoch: int | None  # 1-based epoch of best_error_rate
    wall_s: float  # the recipe's wall time (CUDA-synchronised)
    samples_per_s: float | None  # training images per second over all training epochs
    peak_memory_bytes: int | None  # CUDA max allocated, or the process's peak RSS on CPU
    peak_memory_method: str
    peak_rss_bytes: int | None
    rss_at_start_bytes: int | None  # the process's RSS when the recipe started (after freeing leftovers)
    cuda_max_allocated_bytes: int | None
    cuda_max_reserved_bytes: int | None
    epochs: tuple[EpochRecord, ...]
    outcomes: tuple[Outcome, ...]
    lr_finds: tuple[LrFindRecord, ...]
    calls: tuple[CallRecord, ...]
    most_confused: tuple[ConfusedPair, ...]
    versions: Mapping[str, str | None]
    environment: Mapping[str, Any]  # git commit, host, cpu, threads, ...
    skipped_files: tuple[str, ...] = ()
    converted_files: tuple[str, ...] = ()
    divergence: Divergence | None = None  # set when status is "diverged"
    dropped_classes: tuple[str, ...] = ()  # classes left out as too small to train (--drop-small-classes)
    #: The metrics the run was measured by (every registered one, in registration order), as their specs:
    #: which way is better, their resolution and how they are shown, so that saved results are compared and
    #: shown without the plugins that computed them.
    metrics: tuple[MetricSpec, ...] = ()
    #: Each metric of the weights held at the end (fastai's ``learn.validate()``; a count metric, such as
    #: error_rate, as its exact count over n_valid); None: not measured (a failed run, or before schema 8).
    final_metrics: Mapping[str, float | None] = field(default_factory=dict)
    #: Each evaluation of ``config.evaluations`` on the final weights, then on each outcome's (schema 9).
    evaluations: tuple[EvaluationResult, ...] = ()

    def __post_init__(self) -> None:
        _freeze(self, "recipe_options", "epochs", "outcomes", "lr_finds", "calls", "most_confused", "versions",
                "environment", "skipped_files", "converted_files", "dropped_classes", "metrics", "final_metrics",
                "evaluations")

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def ran_on(self) -> str:
        """The machine the run trained on, as its environment records it: the host, with the Ray node's
        address where a Ray worker ran it."""
        node = self.environment.get("executor")
        ip = node.get("node_ip") if isinstance(node, Mapping) else None
        host = self.environment.get("host") or "an unrecorded host"
        return f"{host} ({ip})" if ip else str(host)

    @property
    def samples_per_s_by_image_size(self) -> Mapping[int, float]:
        """Training images per second at each image size its epochs trained at (progressive resizing's
        phases), in the order first trained; epochs of unknown size (before schema 7) are left out."""
        seconds: dict[int, float] = {}
        samples: dict[int, int] = {}
        for e in self.epochs:
            if e.image_size is not None:
                seconds[e.image_size] = seconds.get(e.image_size, 0.0) + e.train_s
                samples[e.image_size] = samples.get(e.image_size, 0) + e.train_samples
        return MappingProxyType({size: samples[size] / s for size, s in seconds.items() if s > 0})

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> RunResult:
        if doc.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"result schema_version {doc.get('schema_version')!r} is not {SCHEMA_VERSION}")
        kw = dict(doc)
        kw["weights"] = WeightsInfo(**doc["weights"])
        kw["config"] = Config(**doc["config"])
        kw["epochs"] = tuple(EpochRecord(**e) for e in doc["epochs"])
        kw["outcomes"] = tuple(
            Outcome(**{**o, "epochs": tuple(EpochRecord(**e) for e in o["epochs"])}) for o in doc["outcomes"]
        )
        kw["lr_finds"] = tuple(LrFindRecord(**r) for r in doc["lr_finds"])
        kw["calls"] = tuple(CallRecord(**c) for c in doc["calls"])
        kw["most_confused"] = tuple(ConfusedPair(**p) for p in doc["most_confused"])
        kw["divergence"] = Divergence(**doc["divergence"]) if doc.get("divergence") else None
        kw["evaluations"] = tuple(EvaluationResult(**e) for e in doc.get("evaluations", ()))
        kw["metrics"] = tuple(MetricSpec(**m) for m in doc.get("metrics", ()))
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in kw.items() if k in names})


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def schema() -> dict[str, Any]:
    """The JSON Schema every result document follows."""
    text = resources.files("recipebench.record").joinpath("schema/result.schema.json").read_text()
    return json.loads(text)


def _to_2(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 1 was written before ``rss_at_start_bytes`` existed (or, from e72dcd7 on, with it under
    the old number): the field is unknown (None) where absent."""
    return {**doc, "rss_at_start_bytes": doc.get("rss_at_start_bytes")}


def _to_3(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 3 added the status "diverged" with its ``divergence`` record: older runs had none."""
    return {**doc, "divergence": None}


def _to_4(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 4 added ``config.split`` and ``dropped_classes``: older runs all trained on the random
    split their ``valid_pct`` and ``split_seed`` say, with every class."""
    config = doc.get("config")
    if isinstance(config, Mapping) and "split" not in config:
        config = {**config, "split": f"random(valid_pct={config.get('valid_pct')}, seed={config.get('split_seed')})"}
    return {**doc, "config": config, "dropped_classes": doc.get("dropped_classes", [])}


def _to_5(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 5 added to every epoch record ``elapsed_s`` (the clock of time-to-accuracy) and
    ``batch_losses`` (per-batch training losses): older runs recorded neither (None and empty)."""

    def epochs(records):
        return [{**e, "elapsed_s": e.get("elapsed_s"), "batch_losses": e.get("batch_losses", [])} for e in records]

    return {**doc, "epochs": epochs(doc.get("epochs", [])),
            "outcomes": [{**o, "epochs": epochs(o.get("epochs", []))} for o in doc.get("outcomes", [])]}


def _to_6(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 6 added ``config.labels``, how the classes were read: older runs did not record it (None)."""
    config = doc.get("config")
    return {**doc, "config": {**config, "labels": None} if isinstance(config, Mapping) else config}


def _to_7(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 7 added ``config.loss_func`` and ``config.callbacks`` (before it a recipe could declare
    neither: every Learner was built with the DataLoaders' default loss, CrossEntropyLossFlat, and no
    recipe callbacks) and each epoch's ``image_size`` and ``batch_size`` (not recorded: None)."""

    def epochs(records):
        return [{**e, "image_size": e.get("image_size"), "batch_size": e.get("batch_size")} for e in records]

    config = doc.get("config")
    if isinstance(config, Mapping):
        config = {"loss_func": "CrossEntropyLossFlat", "callbacks": [], **config}
    return {**doc, "config": config, "epochs": epochs(doc.get("epochs", [])),
            "outcomes": [{**o, "epochs": epochs(o.get("epochs", []))} for o in doc.get("outcomes", [])]}


#: The chapter's metric, as every result before schema 8 measured it (and the built-in plugin still does).
ERROR_RATE = MetricSpec("error_rate", "share of validation images classified wrong (fastai's error_rate; the "
                        "chapter's)", counts=True, min_effect=0.5)
#: The metrics every run was measured by before schema 8: error_rate, and valid_loss per epoch.
METRICS_BEFORE_8 = (
    ERROR_RATE,
    MetricSpec("valid_loss", "the loss over the validation images (fastai's Recorder)", unit="%", min_effect=5.0),
)


def _to_8(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 8 made metrics plugins: a result records each metric's spec (``metrics``), each epoch's value of
    every metric (``epochs[].metrics``) and each final one (``final_metrics``, of outcomes too). Before it,
    error_rate was the one metric and valid_loss was recorded per epoch: the final valid_loss was not (None);
    the final error rates (the run's and its outcomes') become exact counts over n_valid, as schema 8 stores
    them (1 - 2/14 and 12/14 differ in the last bit)."""

    def epochs(records):
        return [{**e, "metrics": {"error_rate": e.get("error_rate"), "valid_loss": e.get("valid_loss")}}
                for e in records]

    n_valid = doc.get("n_valid")

    def final(error):  # as a count over n_valid, as schema 8 stores a count metric's final value
        if isinstance(error, (int, float)) and isinstance(n_valid, int) and n_valid > 0:
            k = error * n_valid
            error = round(k) / n_valid if abs(k - round(k)) <= 1e-3 else error
        return {"error_rate": error, "valid_loss": None}

    return {**doc, "metrics": [_plain(m) for m in METRICS_BEFORE_8], "final_metrics": final(doc.get("error_rate")),
            "epochs": epochs(doc.get("epochs", [])),
            "outcomes": [{**o, "epochs": epochs(o.get("epochs", [])), "final_metrics": final(o.get("error_rate"))}
                         for o in doc.get("outcomes", [])]}


def _to_9(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 9 added registered evaluations (``--evaluate tta``): ``config.evaluations`` and ``evaluations``.
    Older runs evaluated their weights by the plain validation alone."""
    config = doc.get("config")
    if isinstance(config, Mapping):
        config = {"evaluations": [], **config}
    return {"evaluations": [], **doc, "config": config}


#: How a document of version N becomes version N + 1 (asv's ``update_to_N``), applied in turn.
UPGRADES = {1: _to_2, 2: _to_3, 3: _to_4, 4: _to_5, 5: _to_6, 6: _to_7, 7: _to_8, 8: _to_9}


class NewerSchemaError(ValueError):
    """A document of a schema version newer than this recipebench's: it cannot be read, only upgraded to."""


def upgrade(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """A document of an older schema version as the current one; others are returned unchanged.
    Raises :class:`NewerSchemaError` for a document of a newer version (what to do, in one line)."""
    version = doc.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise NewerSchemaError(f"written by a newer recipebench (schema {version} > {SCHEMA_VERSION}): "
                               "upgrade recipebench to read it")
    if version not in UPGRADES:
        return doc
    out = dict(doc)
    while version in UPGRADES:
        out = UPGRADES[version](out)
        version += 1
    out["schema_version"] = version
    return out


def validate(doc: Mapping[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` if ``doc`` does not follow the result schema."""
    import jsonschema

    jsonschema.validate(doc, schema())
