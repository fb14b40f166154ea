"""The plugin API: every type a recipebench plugin touches, in one module.

A plugin fills four registries through the hooks in :mod:`recipebench.hookspecs`, each hook handing
it a :class:`Register` callable:

* :class:`Recipe`   -- a training recipe: a function that receives a :class:`RecipeContext` and makes
  fastai calls on ``ctx.learn``; its options are :class:`Option` values.
* :class:`Workload` -- a dataset in the Pets layout plus the :class:`Scale` settings it can be run at;
  its ``prepare`` gets a :class:`WorkloadRequest` and returns :class:`PreparedData`.
* :class:`Arch`     -- a torchvision architecture with fastai's cut, split and normalisation stats.
* :class:`Output`   -- where a finished session's results go (a file, a chart, a tracker); its ``write``
  gets a :class:`SessionOutput`.
* :class:`Evaluation` -- another way to evaluate a run's final weights than the plain validation (test-time
  augmentation): its ``predict`` gets an :class:`EvaluationContext` and returns predictions and targets.
* :class:`Metric`   -- what every run is measured by: a fastai metric, which way is better, how it is shown.

All of them are frozen dataclasses: once registered they never change. ``recipebench`` re-exports
them, with the marker :data:`hookimpl` and the helpers a workload plugin may use
(:func:`recipebench.data.checks.checked_data`, :func:`recipebench.train.pretrain.pretrained_body`, ...).
This module imports nothing of the harness, so any module may import it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Protocol, Sequence, TypeVar, Union, runtime_checkable

import pluggy

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch.nn as nn
    from fastai.learner import Learner

#: One name for the hook markers, the plugin manager and the entry-point group.
HOOK_NAMESPACE = "recipebench"
#: Marks a plugin's hook implementations: ``@hookimpl def recipebench_add_recipes(register): ...``.
hookimpl = pluggy.HookimplMarker(HOOK_NAMESPACE)

#: What a recipe asks for. The harness turns "mixed" into fp16 autocast on CUDA and bf16 on CPU.
Precision = Literal["fp32", "mixed"]
#: Which of the workload's architectures a recipe trains: the default one or the deeper one.
ArchRole = Literal["default", "deep"]
SCALE_NAMES = ("smoke", "quick", "full")
#: Which weights a recipe's body starts from: ``session``, what ``--weights`` says (under ``auto``, the
#: workload's default); ``none``, random initialisation whatever ``--weights`` says, for a recipe that
#: trains from scratch (the next chapter's ``Learner(dls, xresnet50(), ...)``). Results record what ran.
RecipeWeights = Literal["session", "none"]
RECIPE_WEIGHTS = ("session", "none")
#: The suite a recipe belongs to: a session without ``--recipe`` runs the recipes of ``--suite`` (default
#: this one, the pet-breeds chapter's); ``--suite all`` runs every registered recipe.
CHAPTER_SUITE = "chapter"
#: Which folder names an image's class when no regex does: ``top``, the first folder below the data
#: folder (every image below it, at any depth, belongs to it: torchvision's ImageFolder), or
#: ``parent``, the image's own folder (fastai's ``parent_label``).
LabelFolder = Literal["top", "parent"]
LABEL_FOLDERS = ("top", "parent")
#: Which split trains: the chapter's ``RandomSplitter(valid_pct=0.2, seed=42)`` or the folder's own.
SplitKind = Literal["random", "folders"]


def _frozen_mapping(obj: Any, name: str) -> None:
    object.__setattr__(obj, name, MappingProxyType(dict(getattr(obj, name))))


@dataclass(frozen=True)
class Scale:
    """How big a run is. Every recipe in one session runs at the same scale.

    ``full`` is the chapter: Resize(460), size 224, batch size 64, resnet34 (resnet50 for the deeper
    recipe). Smaller scales change only data, image size, batch size and architecture -- never
    the recipes' epoch counts or learning rates -- except where ``max_epochs_per_fit`` says so.
    """

    name: str
    presize: int  # px, the Resize() item transform (chapter: 460)
    image_size: int  # px, aug_transforms(size=...) (chapter: 224)
    batch_size: int  # images per batch (chapter: 64)
    arch: str  # registered Arch name for ordinary recipes (chapter: resnet34)
    deep_arch: str  # registered Arch name for recipes with arch_role="deep" (chapter: resnet50)
    max_epochs_per_fit: int | None = None  # None keeps every recipe's epoch counts (quick, full)
    lr_find_num_it: int | None = None  # None keeps fastai's default of 100 iterations
    #: DataLoader worker processes; None: fastai's default (one per CPU core, at most 16), the chapter's.
    num_workers: int | None = None
    #: The same when training on a CPU (None: as ``num_workers``). 0 keeps JPEG decoding in the main
    #: process, where it does not take the cores the training needs (nor blur its timing).
    cpu_num_workers: int | None = None

    def workers(self, on_cuda: bool) -> int | None:
        """DataLoader worker processes on this device (None: fastai's default)."""
        return self.num_workers if on_cuda or self.cpu_num_workers is None else self.cpu_num_workers

    def __post_init__(self) -> None:
        for key in ("presize", "image_size", "batch_size"):
            if getattr(self, key) <= 0:
                raise ValueError(f"scale {self.name!r}: {key} must be positive, got {getattr(self, key)}")
        if self.presize < self.image_size:
            raise ValueError(f"scale {self.name!r}: presize {self.presize} is smaller than image_size {self.image_size}")


OptionValue = Union[str, int, float, bool]


@dataclass(frozen=True)
class Option:
    """A recipe option a user may set with ``--recipe-option RECIPE.KEY=VALUE``.

    The value given on the command line is converted to the type of ``default``; with ``choices``
    anything else is a usage error naming them.
    """

    default: OptionValue
    choices: tuple[OptionValue, ...] = ()  # empty: any value of the default's type
    help: str = ""  # one line, shown by `recipebench list`

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if self.choices and self.default not in self.choices:
            raise ValueError(f"option default {self.default!r} is not one of its choices {self.choices}")


#: Makes a fresh object each time it is called with no arguments: a class (``LabelSmoothingCrossEntropy``,
#: ``MixUp``) or a function returning one.
Factory = Callable[[], Any]


def _zero_argument(factory: Any) -> bool:
    """Whether ``factory`` is a class or a function that can be called with no arguments -- not an object
    such as a loss or a Callback instance, which one run would then share with the next."""
    if not (isinstance(factory, (type, functools.partial)) or inspect.isroutine(factory)):
        return False
    try:
        inspect.signature(factory).bind()
    except TypeError:
        return False
    except ValueError:  # no signature to read (some built-ins): take it as given
        return True
    return True


@dataclass(frozen=True)
class Recipe:
    """A training recipe. ``train(ctx)`` makes fastai training calls on ``ctx.learn``; it never times,
    measures or saves anything itself -- the harness does that identically for every recipe.

    The Learner's loss function and callbacks are declared here, as factories the harness calls for each
    Learner it builds (``ctx.learn`` and every ``ctx.new_learner()``), so no state is shared between
    runs; the result records their classes (``config.loss_func``, ``config.callbacks``)::

        def smoothed_loss():
            from fastai.losses import LabelSmoothingCrossEntropy
            return LabelSmoothingCrossEntropy(eps=0.1)

        Recipe("label_smoothing", baseline, "fine_tune(2)", loss_func=smoothed_loss)
        Recipe("mixup", baseline, "fine_tune(2)", cbs=(MixUp,))  # Learner(..., cbs=MixUp())
    """

    name: str
    train: Callable[[RecipeContext], None]
    summary: str  # one line, shown by `recipebench list`
    arch_role: ArchRole = "default"
    precision: Precision = "fp32"
    #: Options a user may override with --recipe-option NAME.KEY=VALUE: an :class:`Option`, or a plain
    #: default value (any value of its type).
    options: Mapping[str, Option | OptionValue] = field(default_factory=dict)
    #: ``"none"``: this recipe trains from random initialisation, whatever ``--weights`` says
    #: (:data:`RecipeWeights`), e.g. ``Recipe("scratch", train, "fit_one_cycle(5, 3e-3)", weights="none")``.
    weights: RecipeWeights = "session"
    #: The suite it runs in without ``--recipe`` (``--suite NAME``): :data:`CHAPTER_SUITE`, the default
    #: suite, or another name, e.g. ``suite="next_chapter"`` for recipes that run only when asked for.
    suite: str = CHAPTER_SUITE
    #: ``Learner(dls, model, loss_func=loss_func())``; None: the DataLoaders' default (CrossEntropyLossFlat).
    loss_func: Factory | None = None
    #: ``Learner(dls, model, cbs=[f() for f in cbs])``: callbacks of every fit (one factory alone is taken as one).
    cbs: tuple[Factory, ...] = ()
    #: Registered :class:`Evaluation` names the harness runs on this recipe's final weights (and each outcome's)
    #: besides the plain validation, with those the session asks for (``--evaluate``): ``evaluations=("tta",)``.
    evaluations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"recipe name {self.name!r} must be an identifier (letters, digits, _)")
        if self.loss_func is not None and not _zero_argument(self.loss_func):
            raise ValueError(f"recipe {self.name!r}: loss_func must be a factory called with no arguments (a class "
                             f"such as LabelSmoothingCrossEntropy or a function, not an instance), "
                             f"got {self.loss_func!r}")
        cbs = tuple(self.cbs) if isinstance(self.cbs, (tuple, list)) else (self.cbs,)
        if not all(_zero_argument(f) for f in cbs):
            raise ValueError(f"recipe {self.name!r}: cbs must be factories called with no arguments (classes such "
                             f"as MixUp or functions, not instances), got {cbs!r}")
        object.__setattr__(self, "cbs", cbs)
        evaluations = (self.evaluations,) if isinstance(self.evaluations, str) else tuple(self.evaluations)
        if not all(isinstance(name, str) and name.isidentifier() for name in evaluations):
            raise ValueError(f"recipe {self.name!r}: evaluations must be names of registered evaluations "
                             f"(identifiers such as 'tta'), got {self.evaluations!r}")
        object.__setattr__(self, "evaluations", tuple(dict.fromkeys(evaluations)))
        if self.arch_role not in ("default", "deep"):
            raise ValueError(f"recipe {self.name!r}: arch_role must be 'default' or 'deep', got {self.arch_role!r}")
        if self.precision not in ("fp32", "mixed"):
            raise ValueError(f"recipe {self.name!r}: precision must be 'fp32' or 'mixed', got {self.precision!r}")
        if self.weights not in RECIPE_WEIGHTS:
            raise ValueError(f"recipe {self.name!r}: weights must be 'session' or 'none', got {self.weights!r}")
        if not self.suite.isidentifier() or self.suite == "all":
            raise ValueError(f"recipe {self.name!r}: suite must be an identifier other than 'all', got {self.suite!r}")
        options = {}
        for key, value in dict(self.options).items():
            if not isinstance(value, Option):
                try:
                    value = Option(value)
                except ValueError as exc:  # pragma: no cover - Option(value) alone cannot fail
                    raise ValueError(f"recipe {self.name!r}: option {key!r}: {exc}") from None
            options[key] = value
        object.__setattr__(self, "options", MappingProxyType(options))

    @property
    def defaults(self) -> Mapping[str, OptionValue]:
        """Each option's default value."""
        return MappingProxyType({k: o.default for k, o in self.options.items()})


@dataclass(frozen=True)
class WorkloadRequest:
    """What the user asked for, handed to :attr:`Workload.prepare`."""

    scale: Scale
    cache_dir: Path  # where a workload may keep generated data and weights
    device: Any = "cpu"  # torch.device the session trains on (pretraining uses it too)
    data_dir: Path | None = None  # --data-dir: use this folder instead of the workload's default source
    label_re: str | None = None  # --label-re: regex on file names (None: the workload's default)
    labels: LabelFolder | None = None  # --labels: without a regex, which folder is the class (None: the workload's)
    split: str = "auto"  # --split: auto | random | folders | folders:VALID (see recipebench.data.checks)
    drop_small_classes: bool = False  # --drop-small-classes: leave out classes too small to train, not stop
    #: ``progress(done, total, what)``: call it while making data (generating, converting, downloading) so the
    #: person waiting sees it working and how long is left (``what``: the unit, e.g. "images"); None: nobody
    #: watches. Weight sources that train (a pretrained body) take one too (:func:`pretrained_body`).
    progress: Callable[[int, int, str], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class FolderSplit:
    """A folder that comes split: ``DIR/<train>/<class>/...`` and ``DIR/<valid>/<class>/...``.

    ``valid`` is None for a folder with a training folder but no validation one (``train/`` and
    ``test/``), which can only be split at random.
    """

    train: str = "train"
    valid: str | None = "valid"

    def __str__(self) -> str:
        return f"folders(train={self.train}, valid={self.valid})"


@dataclass(frozen=True)
class WeightsFile:
    """Pretrained weights actually loaded: a torchvision-style state dict on disk."""

    source: str  # label in results: "synthetic-source", "imagenet", "file", ...
    path: Path
    sha256: str
    detail: Mapping[str, Any] = field(default_factory=dict)  # e.g. how the weights were made

    def __post_init__(self) -> None:
        _frozen_mapping(self, "detail")


@dataclass(frozen=True)
class PreparedData:
    """A workload made ready on disk: a folder of images in the Pets layout and how to label them."""

    images_dir: Path
    label_re: str | None  # regex with one group on the file name; None: label by folder (label_folder)
    fingerprint: str  # sha256 over relative file names and sizes
    n_files: int
    #: Named weight sources this workload offers, e.g. {"synthetic-source": pretrain}; each is
    #: called with the Arch to train and returns the file it made or found.
    weight_sources: Mapping[str, Callable[[Arch], WeightsFile]] = field(default_factory=dict)
    default_weights: str = "none"
    skipped_files: tuple[str, ...] = ()  # files left out (unreadable), relative to images_dir
    converted_files: tuple[str, ...] = ()  # readable but converted (grayscale, PNG named .jpg, ...)
    description: str = ""
    #: Without ``label_re``: which folder is an image's class (see :data:`LabelFolder`).
    label_folder: LabelFolder = "parent"
    #: The training and validation folders the images lie in, when the folder comes split; the class
    #: folders are then the ones inside them. None: class folders (or named files) directly under images_dir.
    folders: FolderSplit | None = None
    #: Which split trains: ``random`` (the chapter's RandomSplitter over every item) or ``folders``
    #: (exactly the split ``folders`` gives).
    split: SplitKind = "random"
    #: The files fastai reads, relative to images_dir (POSIX), in this order (the random split depends
    #: on it). None: every image file under images_dir but ``skipped_files``, sorted.
    items: tuple[str, ...] | None = None
    #: Each class's (training, validation) image counts under the split, when the workload checked them.
    class_counts: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    dropped_classes: tuple[str, ...] = ()  # classes left out as too small to train (--drop-small-classes)

    def __post_init__(self) -> None:
        _frozen_mapping(self, "weight_sources")
        _frozen_mapping(self, "class_counts")
        if self.split == "folders" and (self.folders is None or self.folders.valid is None):
            raise ValueError(f"split 'folders' needs a training and a validation folder, got {self.folders}")


@dataclass(frozen=True)
class Workload:
    """A dataset and the scales it runs at. ``prepare`` makes the data ready (download, generate,
    check files) and is called at most once per session."""

    name: str
    summary: str
    prepare: Callable[[WorkloadRequest], PreparedData]
    scales: Mapping[str, Scale]

    def __post_init__(self) -> None:
        missing = [s for s in SCALE_NAMES if s not in self.scales]
        if missing:
            raise ValueError(f"workload {self.name!r} defines no settings for scale(s) {missing}")
        _frozen_mapping(self, "scales")


@dataclass(frozen=True)
class Arch:
    """A torchvision architecture as fastai needs it (what `fastai.vision.learner.model_meta` holds)."""

    name: str
    build: Callable[[], nn.Module]  # a randomly initialised torchvision model, ImageNet head
    cut: int | Callable[[nn.Module], nn.Module]  # where the body ends (create_body's cut)
    split: Callable[[nn.Module], list]  # parameter groups for discriminative LR
    stats: tuple[tuple[float, float, float], tuple[float, float, float]]  # mean, std
    #: torchvision weights enum member name used for --weights imagenet (e.g. "IMAGENET1K_V1")
    imagenet_weights: str | None = None


#: Which way a metric is better: ``lower`` (error rate, loss) or ``higher`` (accuracy, F1).
Better = Literal["lower", "higher"]
#: How a change of a metric is read: ``pp``, the difference of the means x 100 (percentage points: values
#: between 0 and 1); ``%``, the ratio of the geometric means - 1, x 100 (positive values such as a loss).
MetricUnit = Literal["pp", "%"]


@dataclass(frozen=True)
class MetricSpec:
    """What is known about a metric's values, without the code that computes them: which way is better,
    their resolution, how they are shown. Every result records the spec of each metric it measured
    (``RunResult.metrics``), so saved results are compared and shown where the plugin is not installed."""

    name: str  # an identifier: the Recorder's column, the --metric / --fail-on name, the csv's column prefix
    summary: str  # one line, shown by `recipebench list`
    better: Better = "lower"
    #: The values are counts over the validation images (k / n_valid, as error_rate is): they move in steps of
    #: 1 / n_valid, and their tests compare counts. False: no known step (a loss, an F1 score).
    counts: bool = False
    header: str = ""  # the column title; empty: the name
    unit: MetricUnit = "pp"
    digits: int = 4  # decimals of a value in a table
    #: The practical minimum of a change, in ``unit``: smaller ones are never a verdict (``--min-effect``).
    min_effect: float = 0.5

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"metric {self.name!r}: name must be an identifier (letters, digits, _)")
        if self.better not in ("lower", "higher"):
            raise ValueError(f"metric {self.name!r}: better must be 'lower' or 'higher', got {self.better!r}")
        if self.unit not in ("pp", "%"):
            raise ValueError(f"metric {self.name!r}: unit must be 'pp' or '%', got {self.unit!r}")
        if not isinstance(self.digits, int) or self.digits < 0:
            raise ValueError(f"metric {self.name!r}: digits must be a whole number >= 0, got {self.digits!r}")
        if not self.min_effect >= 0:
            raise ValueError(f"metric {self.name!r}: min_effect must be >= 0, got {self.min_effect!r}")
        if not self.header:
            object.__setattr__(self, "header", self.name)

    @property
    def higher_is_better(self) -> bool:
        return self.better == "higher"


@dataclass(frozen=True)
class Metric(MetricSpec):
    """A metric every run is measured by, per epoch and at the end (the weights held), e.g.::

        def macro_f1():
            from fastai.metrics import F1Score
            return F1Score(average="macro")

        Metric("macro_f1", "F1 averaged over the classes", better="higher", compute=macro_f1)

    ``compute`` is what fastai's ``Learner(metrics=...)`` takes: a function of ``(preds, targets)``
    (``error_rate``; fastai averages it over the validation batches), or a factory called with no
    arguments that returns a fastai ``Metric`` object (``F1Score(average='macro')``), called for each
    Learner so no state is shared between runs. None: a value fastai's Recorder records itself under
    ``name`` (``valid_loss``).
    """

    compute: Callable[..., Any] | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.compute is not None and not callable(self.compute):
            raise ValueError(f"metric {self.name!r}: compute must be a fastai metric function of (preds, targets) "
                             f"or a factory returning a fastai Metric, got {self.compute!r}")

    @property
    def is_factory(self) -> bool:
        """``compute`` makes a fastai Metric object (called with no arguments), rather than being a function."""
        return self.compute is not None and _zero_argument(self.compute)

    @property
    def spec(self) -> MetricSpec:
        """The metric without its code: what a result records."""
        return MetricSpec(**{f.name: getattr(self, f.name) for f in dataclasses.fields(MetricSpec)})


class Span(Protocol):
    """A measured stretch of a recipe, as :meth:`RecipeContext.outcome` and ``stage`` yield it."""

    name: str

    @property
    def wall_s(self) -> float:
        """Its wall time so far, including the span it continues (``after``)."""

    @property
    def best_own_epoch(self) -> int:
        """How many of its own epochs had run when it reached its lowest error_rate (the earliest
        among equals): the ``k`` to retrain for. Valid once the span has closed."""


@runtime_checkable
class RecipeContext(Protocol):
    """What ``Recipe.train(ctx)`` receives. Type a recipe as ``def my_recipe(ctx: RecipeContext)``.

    Attributes:
        learn:   the Learner to train: the workload's data and split, the arch with its pretrained
                 body (frozen; random and unfrozen under ``--weights none`` or ``Recipe(weights="none")``),
                 every registered metric (error_rate first), the precision the recipe asked for.
        scale:   the session's :class:`Scale`.
        options: the recipe's option values (defaults overridden by ``--recipe-option``).
    """

    learn: Learner
    scale: Scale
    options: Mapping[str, OptionValue]

    def epochs(self, n: int) -> int:
        """The chapter's epoch count ``n`` at this scale: unchanged at quick and full, capped at smoke."""

    def new_learner(self) -> Learner:
        """A fresh Learner under the same conditions, for recipes that retrain; it becomes ``ctx.learn``."""

    def dataloaders(self, image_size: int | None = None, presize: int | None = None,
                    batch_size: int | None = None) -> Any:
        """fastai DataLoaders over the same items and split as ``ctx.learn``'s, built by the harness as at the
        run's start (the chapter's DataBlock, the same Normalize, ``set_seed(seed)`` before and after), at
        another image size (``aug_transforms(size=)``), presize (``Resize()``) or batch size (None: the
        scale's). The recipe puts them in: ``ctx.learn.dls = ctx.dataloaders(image_size=128, batch_size=128)``
        (the chapter's ``learn.dls = get_dls(128, 128)``). Each epoch's result records the size and batch
        size it trained at. Seeding again restarts the run's random streams from its seed."""

    def outcome(self, name: str, after: Span | None = None) -> contextlib.AbstractContextManager[Span]:
        """Measure the enclosed training as a named sub-result (a row of its own), re-validated at exit;
        ``after``: a span whose epochs and time it continues."""

    def stage(self, name: str, after: Span | None = None) -> contextlib.AbstractContextManager[Span]:
        """Like :meth:`outcome`, but not a row of its own: a shared start that outcomes continue."""


@dataclass(frozen=True)
class SessionOutput:
    """What an :class:`Output` receives: a finished session's results (or a results folder's, under
    ``recipebench export``) and the harness's renderings of them, so an output needs no internal import."""

    results: tuple[Any, ...]  # recipebench.record.results.RunResult, one per recipe x seed
    skipped: tuple[Any, ...]  # recipebench.record.results.SkippedCase: cases the session did not train
    #: Where the results are: the session's folder, or the RESULTS path given to ``recipebench export``.
    results_path: Path
    #: Where this output writes its files: the session's folder at the end of a session; ``--out-dir``
    #: (default: the current directory) under ``recipebench export``, which never writes into RESULTS.
    out_dir: Path
    #: Where a tracker keeps its store when not told (``beside / "mlruns"``): the folder holding the results,
    #: i.e. ``--results-dir`` for a session's folder in it; under ``export``, the parent of RESULTS (of the
    #: folder holding RESULTS, for a file).
    beside: Path
    reference: str | None  # --reference: the recipe the table ranks the others against (None: baseline)
    target_error: float | None  # --target-error (None: the reference's mean final error_rate)
    #: This output's option values: its :attr:`Output.options` defaults, overridden by
    #: ``--output-option NAME.KEY=VALUE`` (a session) or ``--KEY VALUE`` (``recipebench export NAME``).
    options: Mapping[str, OptionValue]
    #: ``table(fmt, results=None)``: the session table, as printed at the end of a session, in "text",
    #: "markdown" or "csv", of ``results`` (default: all of them, with the skipped cases).
    table: Callable[..., str] = field(repr=False)
    #: ``plot_epochs(path, results=None)``: the chart of error_rate per epoch (and lr_find curves) of ``results``
    #: (default: all) as a PNG at ``path``, or at the next free name if that is taken (never overwritten);
    #: returns the path written.
    plot_epochs: Callable[..., Path] = field(repr=False)
    #: ``say(line)``: tell the person running it something (the terminal).
    say: Callable[[str], None] = field(repr=False)
    metric: str | None = None  # --metric: the metric the table ranks by (None: error_rate, the chapter's)

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", tuple(self.results))
        object.__setattr__(self, "skipped", tuple(self.skipped))
        _frozen_mapping(self, "options")


#: What an output reports it wrote: files, folders, or a URI (a tracking server), each shown to the user.
Written = Sequence[Union[Path, str]]


@dataclass(frozen=True)
class Output:
    """Something a finished session's results go to: a file in the session folder (``summary.md``), a
    chart, a tracker (MLflow, TensorBoard). ``write(session)`` gets a :class:`SessionOutput` and returns
    what it wrote. An output that raises loses nothing: the result documents are on disk before any
    output runs; the session names the output that failed and goes on with the next::

        def ranking_csv(session: SessionOutput) -> list[Path]:
            path = session.out_dir / "ranking.csv"
            path.write_text(session.table("csv"))
            return [path]

        register(Output("ranking.csv", "the session table as csv", ranking_csv))

    ``--output NAME`` (repeatable) asks a session for an output; ``recipebench export NAME RESULTS``
    writes it from a results folder afterwards.
    """

    name: str  # what --output and `recipebench export` call it, e.g. "summary.md", "mlflow"
    summary: str  # one line, shown by `recipebench list`
    write: Callable[[SessionOutput], Written]
    #: Written at the end of every session unless ``--output no:NAME`` (the built-in summary.md and epochs.png).
    default: bool = False
    #: Options a user may set with ``--output-option NAME.KEY=VALUE`` (``--KEY VALUE`` under ``recipebench
    #: export NAME``): an :class:`Option`, or a plain default value.
    options: Mapping[str, Option | OptionValue] = field(default_factory=dict)
    #: Modules it needs that recipebench does not install, each with how to install it, e.g.
    #: ``{"mlflow": "pip install 'recipebench[mlflow]'"}``: a session asking for the output without them
    #: stops before training, with that line.
    requires: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip() or any(c.isspace() or c in ",=" for c in self.name) \
                or self.name.startswith("no:") or self.name.startswith("-"):
            raise ValueError(f"output name {self.name!r} must be one word without spaces, commas or '=', and not "
                             "start with 'no:' or '-'")
        options = {}
        for key, value in dict(self.options).items():
            if not key.isidentifier():
                raise ValueError(f"output {self.name!r}: option {key!r} must be an identifier")
            options[key] = value if isinstance(value, Option) else Option(value)
        object.__setattr__(self, "options", MappingProxyType(options))
        _frozen_mapping(self, "requires")

    @property
    def defaults(self) -> Mapping[str, OptionValue]:
        """Each option's default value."""
        return MappingProxyType({k: o.default for k, o in self.options.items()})


@dataclass(frozen=True)
class EvaluationContext:
    """What :attr:`Evaluation.predict` receives.

    Attributes:
        learn: the run's Learner holding the weights to evaluate (the run's final ones, or an outcome's), its
               DataLoaders those the recipe ended with, seeded with the run's seed just before.
        scale: the session's :class:`Scale`.
    """

    learn: Learner
    scale: Scale


@dataclass(frozen=True)
class Evaluation:
    """Another way to evaluate weights than the plain final validation, e.g. test-time augmentation::

        def tta(ctx: EvaluationContext):
            return ctx.learn.tta(n=4, beta=0.25)  # (predictions, targets) over the validation set

        Evaluation("tta", tta, summary="learn.tta(n=4, beta=0.25)")

    ``predict(ctx)`` returns ``(predictions, targets)`` as ``learn.get_preds()`` and ``learn.tta()`` do. It never
    times or records anything: the harness runs it after the recipe (``--evaluate NAME`` or
    ``Recipe(evaluations=(NAME,))``) on the run's final weights and on each outcome's, seeded with the run's
    seed, times it (``inference_s``, apart from the training's ``wall_s``) and computes the error rate from
    its predictions; each becomes a row of its own, ``recipe > NAME`` (``recipe > outcome > NAME``).
    """

    name: str
    predict: Callable[[EvaluationContext], tuple[Any, Any]]
    summary: str  # one line, shown by `recipebench list`

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"evaluation name {self.name!r} must be an identifier (letters, digits, _)")


#: What a plugin registers: one of these six.
Registrable = TypeVar("Registrable", Recipe, Workload, Arch, Metric, Output, Evaluation)


class Register(Protocol[Registrable]):
    """The ``register`` callable a hook receives: ``register(Recipe(...))`` (or a Workload, an Arch, a Metric, an
    Output, an Evaluation).

    It is bound to the calling plugin, so a name registered twice is an error naming both plugins.
    Returns the item it registered.
    """

    def __call__(self, item: Registrable) -> Registrable: ...
