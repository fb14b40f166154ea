"""The data stage: the chapter's DataBlock over a folder in the Pets layout.

    DataBlock(blocks=(ImageBlock, CategoryBlock),
              get_items=get_image_files,            # sorted, so the split is reproducible
              splitter=RandomSplitter(seed=42),
              get_y=using_attr(RegexLabeller(r'(.+)_\\d+.jpg$'), 'name'),
              item_tfms=Resize(presize),
              batch_tfms=aug_transforms(size=image_size, min_scale=0.75))
"""
from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path
from typing import Any, Iterable

from recipebench.api import PreparedData, Scale
from recipebench.environment import is_cuda

#: The chapter's labeller: the breed is everything before the last ``_<number>.jpg``.
PETS_LABEL_RE = r"(.+)_\d+.jpg$"
#: The chapter's split: 20% validation, seed 42, whatever the run's seed.
SPLIT_SEED = 42
VALID_PCT = 0.2
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp")


def image_files(folder: Path, exclude: Iterable[str] = ()) -> list[Path]:
    """fastai's ``get_image_files``, sorted, without the files in ``exclude`` (relative names)."""
    from fastai.data.transforms import get_image_files

    skip = {Path(folder, e) for e in exclude}
    return sorted(p for p in get_image_files(folder) if p not in skip)


def fingerprint(folder: Path, files: Iterable[Path]) -> str:
    """sha256 over each file's name relative to ``folder`` and its size in bytes."""
    h = hashlib.sha256()
    for p in sorted(files):
        h.update(f"{p.relative_to(folder).as_posix()}\t{p.stat().st_size}\n".encode())
    return h.hexdigest()


def folder_data(folder: Path, label_re: str | None, description: str, **kw: Any) -> PreparedData:
    """``folder`` as :class:`PreparedData`, fingerprinted but not checked file by file: for data a
    workload made itself (``kw``: more PreparedData fields). Folders of outside images go through
    :func:`recipebench.checks.checked_data` instead."""
    folder = Path(folder)
    files = image_files(folder)
    return PreparedData(images_dir=folder, label_re=label_re, fingerprint=fingerprint(folder, files),
                        n_files=len(files), description=description, **kw)


def labeller(label_re: str | None):
    """The ``get_y`` for a folder: a regex on the file name, or the parent folder's name."""
    from fastai.data.transforms import RegexLabeller, parent_label
    from fastcore.basics import using_attr

    if label_re is None:
        return parent_label
    return using_attr(RegexLabeller(label_re), "name")


def datablock(data: PreparedData, scale: Scale):
    """The chapter's DataBlock for ``data`` at ``scale``."""
    from fastai.data.block import CategoryBlock, DataBlock
    from fastai.data.transforms import RandomSplitter
    from fastai.vision.augment import Resize, aug_transforms
    from fastai.vision.data import ImageBlock

    return DataBlock(
        blocks=(ImageBlock, CategoryBlock),
        get_items=partial(image_files, exclude=data.skipped_files),
        splitter=RandomSplitter(valid_pct=VALID_PCT, seed=SPLIT_SEED),
        get_y=labeller(data.label_re),
        item_tfms=Resize(scale.presize),
        batch_tfms=aug_transforms(size=scale.image_size, min_scale=0.75),
    )


def dataloaders(data: PreparedData, scale: Scale, device):
    """DataLoaders for ``data`` at ``scale`` on ``device``. Call ``set_seed`` first."""
    n = scale.workers(on_cuda=is_cuda(device))
    workers = {} if n is None else {"num_workers": n}
    return datablock(data, scale).dataloaders(data.images_dir, bs=scale.batch_size, device=device, **workers)


def worker_count(dls) -> int:
    """The DataLoader worker processes ``dls`` really uses (fastai's own ``dl.num_workers`` is always 1:
    the count lives on its torch loader, ``fake_l``)."""
    return int(dls.train.fake_l.num_workers)
