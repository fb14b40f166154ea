"""The embedded default workload, ``synthetic``: generated offline, with a genuinely pretrained body.

On first use it generates, from a fixed seed, a Pets-layout folder (``images/<Class>_<n>.jpg``) of
target classes and a separate folder of *source* classes (disjoint from the target ones), and caches
both. The weight source ``synthetic-source`` pretrains an architecture on the source classes once
(cached too), so the chapter's transfer-learning recipes have a real pretrained body to fine-tune.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from types import MappingProxyType

from recipebench import (
    PETS_LABEL_RE,
    Arch,
    PreparedData,
    PretrainSettings,
    Scale,
    Workload,
    WorkloadRequest,
    cached_dir,
    folder_data,
    hookimpl,
    pretrained_body,
)
from recipebench.plugins.synthetic_images import (
    GENERATOR_VERSION,
    ImageSpec,
    make_classes,
    write_images,
)

NAME = "synthetic"
WEIGHTS_LABEL = "synthetic-source"
DATA_SEED = 0  # the data never changes with the run's seed: every run trains on the same images


@dataclass(frozen=True)
class SyntheticSize:
    """How much to generate at one scale."""

    classes: int
    per_class: int
    confusable_pairs: int
    source_classes: int
    source_per_class: int
    source_pairs: int  # confusable pairs among the source classes
    image: ImageSpec  # generated image sizes (px); presizing crops them
    pretrain: PretrainSettings


SCALES = MappingProxyType({
    # seconds: for tests. Epoch counts capped at 1 per call, lr_find shortened.
    "smoke": Scale("smoke", presize=48, image_size=32, batch_size=16, arch="resnet18", deep_arch="resnet50",
                   max_epochs_per_fit=1, lr_find_num_it=12, cpu_num_workers=0),
    # CPU minutes: the chapter's epoch counts and learning rates on small images (images load in the
    # main process on a CPU, with fastai's default workers on CUDA).
    "quick": Scale("quick", presize=64, image_size=48, batch_size=32, arch="resnet18", deep_arch="resnet50",
                   cpu_num_workers=0),
    # the chapter's settings (and fastai's default DataLoader workers, as the chapter had).
    "full": Scale("full", presize=460, image_size=224, batch_size=64, arch="resnet34", deep_arch="resnet50"),
})

SIZES = MappingProxyType({
    "smoke": SyntheticSize(6, 12, 1, 8, 16, 0, ImageSpec(44, 72),
                           PretrainSettings(epochs=1, lr_max=1e-2, presize=48, image_size=32, batch_size=16)),
    # 129 validation images (one is 0.78 pp); resnet50's body trains 5 epochs, not 8: the first run's
    # pretraining of both bodies stays near 2 minutes on 2 CPU cores.
    "quick": SyntheticSize(12, 54, 2, 48, 50, 8, ImageSpec(64, 110),
                           PretrainSettings(epochs=8, lr_max=1e-2, presize=48, image_size=32, batch_size=64,
                                            arch_epochs=(("resnet50", 5),))),
    "full": SyntheticSize(37, 200, 6, 40, 250, 8, ImageSpec(420, 720),
                          PretrainSettings(epochs=8, lr_max=1e-2, presize=460, image_size=224, batch_size=64)),
})


def _generate(root: Path, size: SyntheticSize, progress=None) -> None:
    target, source = make_classes(size.classes, size.confusable_pairs, size.source_classes, DATA_SEED,
                                  source_pairs=size.source_pairs)
    n_target = size.classes * size.per_class
    n_all = n_target + size.source_classes * size.source_per_class
    write_images(root / "images", target, size.per_class, size.image, DATA_SEED,
                 progress and (lambda done, _total, what: progress(done, n_all, what)), "images generated")
    write_images(root / "source", source, size.source_per_class, size.image, DATA_SEED + 1,
                 progress and (lambda done, _total, what: progress(n_target + done, n_all, what)), "images generated")
    (root / "classes.json").write_text(json.dumps(
        {"target": [asdict(c) for c in target], "source": [asdict(c) for c in source],
         "generator_version": GENERATOR_VERSION, "seed": DATA_SEED}, indent=1))


def _pretrain(arch: Arch, source: PreparedData, size: SyntheticSize, cache_dir: Path, device, progress=None):
    return pretrained_body(arch, source, size.pretrain, cache_dir, device, label=WEIGHTS_LABEL,
                           extra_key={"generator_version": GENERATOR_VERSION}, progress=progress)


def prepare(request: WorkloadRequest) -> PreparedData:
    if request.data_dir is not None:
        raise ValueError(f"workload {NAME!r} generates its own data; --data-dir is for the pets and folder workloads")
    size = SIZES[request.scale.name]
    params = {"generator_version": GENERATOR_VERSION, "seed": DATA_SEED, "size": asdict(size)}
    root = cached_dir(Path(request.cache_dir) / "synthetic", request.scale.name, params,
                      lambda tmp: _generate(tmp, size, request.progress))
    source = folder_data(root / "source", PETS_LABEL_RE,
                         f"{size.source_classes} generated source classes for pretraining")
    return folder_data(
        root / "images", PETS_LABEL_RE,
        f"{size.classes} generated classes x {size.per_class} images ({size.confusable_pairs} confusable pairs)",
        weight_sources={WEIGHTS_LABEL: partial(_pretrain, source=source, size=size, cache_dir=request.cache_dir,
                                               device=request.device, progress=request.progress)},
        default_weights=WEIGHTS_LABEL,
    )


@hookimpl
def recipebench_add_workloads(register):
    register(Workload(NAME, "generated offline from a seed; body pretrained on disjoint generated classes",
                      prepare=prepare, scales=SCALES))
