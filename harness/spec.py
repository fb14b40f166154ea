"""What plugins register, and the settings every run shares.

A plugin fills three registries through the hooks in :mod:`harness.hookspecs`:

* :class:`Recipe`   -- a training recipe: a function that makes fastai calls on a Learner.
* :class:`Workload` -- a dataset in the Pets layout plus the scales it can be run at.
* :class:`Arch`     -- a torchvision architecture with fastai's cut, split and normalisation stats.

All of them are frozen dataclasses: once registered they never change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch.nn as nn

    from harness.context import RecipeContext

#: What a recipe asks for. The harness turns "mixed" into fp16 autocast on CUDA and bf16 on CPU.
Precision = Literal["fp32", "mixed"]
#: Which of the workload's architectures a recipe trains: the default one or the deeper one.
ArchRole = Literal["default", "deep"]
SCALE_NAMES = ("smoke", "quick", "full")


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
    num_workers: int | None = 0  # DataLoader worker processes; None: fastai's default (one per CPU, at most 16)

    def __post_init__(self) -> None:
        for key in ("presize", "image_size", "batch_size"):
            if getattr(self, key) <= 0:
                raise ValueError(f"scale {self.name!r}: {key} must be positive, got {getattr(self, key)}")
        if self.presize < self.image_size:
            raise ValueError(f"scale {self.name!r}: presize {self.presize} is smaller than image_size {self.image_size}")


@dataclass(frozen=True)
class Recipe:
    """A training recipe. ``train(ctx)`` makes fastai training calls on ``ctx.learn``; it never times,
    measures or saves anything itself -- the harness does that identically for every recipe."""

    name: str
    train: Callable[[RecipeContext], None]
    summary: str  # one line, shown by `recipebench list`
    arch_role: ArchRole = "default"
    precision: Precision = "fp32"
    #: Defaults for options a user may override with --recipe-option NAME.KEY=VALUE.
    options: Mapping[str, str | int | float] = field(default_factory=dict)
    #: Allowed values for options that take one of a few (anything else is a usage error).
    option_choices: Mapping[str, tuple] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"recipe name {self.name!r} must be an identifier (letters, digits, _)")
        if self.arch_role not in ("default", "deep"):
            raise ValueError(f"recipe {self.name!r}: arch_role must be 'default' or 'deep', got {self.arch_role!r}")
        if self.precision not in ("fp32", "mixed"):
            raise ValueError(f"recipe {self.name!r}: precision must be 'fp32' or 'mixed', got {self.precision!r}")
        for key, choices in dict(self.option_choices).items():
            if key not in self.options or self.options[key] not in choices:
                raise ValueError(f"recipe {self.name!r}: option {key!r} has choices {choices} but its default is "
                                 f"{dict(self.options).get(key)!r}")
        _frozen_mapping(self, "options")
        _frozen_mapping(self, "option_choices")


@dataclass(frozen=True)
class WorkloadRequest:
    """What the user asked for, handed to :attr:`Workload.prepare`."""

    scale: Scale
    cache_dir: Path  # where a workload may keep generated data and weights
    device: Any = "cpu"  # torch.device the session trains on (pretraining uses it too)
    data_dir: Path | None = None  # --data-dir: use this folder instead of the workload's default source
    label_re: str | None = None  # --label-re: regex on file names (None: the workload's default)


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
    label_re: str | None  # regex with one group on the file name; None: label by parent folder
    fingerprint: str  # sha256 over relative file names and sizes
    n_files: int
    #: Named weight sources this workload offers, e.g. {"synthetic-source": pretrain}; each is
    #: called with the Arch to train and returns the file it made or found.
    weight_sources: Mapping[str, Callable[[Arch], WeightsFile]] = field(default_factory=dict)
    default_weights: str = "none"
    skipped_files: tuple[str, ...] = ()  # files left out (unreadable), relative to images_dir
    converted_files: tuple[str, ...] = ()  # readable but converted (grayscale, PNG named .jpg, ...)
    description: str = ""

    def __post_init__(self) -> None:
        _frozen_mapping(self, "weight_sources")


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
