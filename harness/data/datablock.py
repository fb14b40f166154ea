"""The data stage: the chapter's DataBlock over a folder in the Pets layout.

    DataBlock(blocks=(ImageBlock, CategoryBlock),
              get_items=get_image_files,            # sorted, so the split is reproducible
              splitter=RandomSplitter(seed=42),
              get_y=using_attr(RegexLabeller(r'(.+)_\\d+.jpg$'), 'name'),
              item_tfms=Resize(presize),
              batch_tfms=aug_transforms(size=image_size, min_scale=0.75))

A folder of class folders is labelled by its top-level folders (:class:`TopFolderLabel`, every image
below one at any depth belongs to it) or by fastai's ``parent_label``; a folder that comes split
(``train/``, ``valid/``) trains on that split (:class:`FolderSplitter`, fastai's ``GrandparentSplitter``
at any depth) unless the random one is asked for.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Sequence

from recipebench.api import FolderSplit, LabelFolder, PreparedData, Scale
from recipebench.record.environment import is_cuda

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


def relative_names(folder: Path, files: Sequence[Path]) -> list[str]:
    """Each file's POSIX name relative to ``folder`` (which they all lie under), cheaply: 50,000 at once."""
    relative = RelativeTo(str(folder))
    return [relative.name(p) for p in files]


def fingerprint(folder: Path, files: Iterable[Path]) -> str:
    """sha256 over each file's name relative to ``folder`` and its size in bytes."""
    files = sorted(files)
    return names_fingerprint(relative_names(folder, files), [p.stat().st_size for p in files])


def names_fingerprint(names: Sequence[str], sizes: Sequence[int]) -> str:
    """:func:`fingerprint` from relative names (in :func:`image_files` order) and their sizes."""
    h = hashlib.sha256()
    for name, size in zip(names, sizes):
        h.update(f"{name}\t{size}\n".encode())
    return h.hexdigest()


def folder_label(name: str, label_folder: LabelFolder, depth: int = 0) -> str:
    """The class of the image ``name`` (relative to the data folder): its folder at ``depth`` (``top``;
    ``depth`` 1 in a folder that comes split, whose top-level folders are ``train/`` and ``valid/``) or
    its parent folder (``parent``, as fastai's ``parent_label``)."""
    parts = name.split("/")
    return parts[depth] if label_folder == "top" else parts[-2]


@dataclass(frozen=True)
class RelativeTo:
    """Paths under ``root`` as relative POSIX names (``root`` is what the DataBlock reads items from)."""

    root: str

    def name(self, path) -> str:
        text, prefix = str(path), self.root.rstrip("/") + "/"
        return text[len(prefix):] if text.startswith(prefix) else Path(path).relative_to(self.root).as_posix()


@dataclass(frozen=True)
class TopFolderLabel(RelativeTo):
    """``get_y``: the top-level class folder of an image under ``root``, at any depth below it."""

    depth: int = 0  # 1 when the top-level folders are train/ and valid/

    def __call__(self, path) -> str:
        return folder_label(self.name(path), "top", self.depth)


@dataclass(frozen=True)
class FolderSplitter(RelativeTo):
    """``splitter``: fastai's ``GrandparentSplitter`` at any depth -- an image under ``root/<train>/``
    trains, one under ``root/<valid>/`` validates (items elsewhere are never handed to it)."""

    folders: FolderSplit

    def __call__(self, items) -> tuple[list[int], list[int]]:
        return split_indices([self.name(p) for p in items], self.folders)


def random_splitter():
    """The chapter's split: ``RandomSplitter(valid_pct=0.2, seed=42)``."""
    from fastai.data.transforms import RandomSplitter

    return RandomSplitter(valid_pct=VALID_PCT, seed=SPLIT_SEED)


def split_indices(names: Sequence[str], folders: FolderSplit | None) -> tuple[list[int], list[int]]:
    """Which of ``names`` (relative, in the order the DataBlock gets them) train and which validate:
    by their top-level folder, or (``folders`` None) as the chapter's random split does -- computed
    by the same ``RandomSplitter``, without touching the global random state it would reseed."""
    if folders is None:
        import torch

        with torch.random.fork_rng(devices=[]):
            train, valid = random_splitter()(names)
        return list(train), list(valid)
    top = [n.split("/", 1)[0] for n in names]
    return ([i for i, t in enumerate(top) if t == folders.train],
            [i for i, t in enumerate(top) if t == folders.valid])


def training_split(data: PreparedData) -> FolderSplit | None:
    """The folders whose split ``data`` trains on; None: the chapter's random split."""
    return data.folders if data.split == "folders" else None


def split_description(folders: FolderSplit | None) -> str:
    """A split as results record it: the folders' own, or (None) the chapter's random one."""
    if folders is not None:
        return str(folders)
    return f"random(valid_pct={VALID_PCT}, seed={SPLIT_SEED})"


def folder_data(folder: Path, label_re: str | None, description: str, **kw: Any) -> PreparedData:
    """``folder`` as :class:`PreparedData`, fingerprinted but not checked file by file: for data a
    workload made itself (``kw``: more PreparedData fields). Folders of outside images go through
    :func:`recipebench.data.checks.checked_data` instead."""
    folder = Path(folder)
    files = image_files(folder)
    return PreparedData(images_dir=folder, label_re=label_re, fingerprint=fingerprint(folder, files),
                        n_files=len(files), description=description, **kw)


def labeller(data: PreparedData):
    """The ``get_y`` for ``data``: a regex on the file name, the top-level class folder, or the parent folder's name."""
    from fastai.data.transforms import RegexLabeller, parent_label
    from fastcore.basics import using_attr

    if data.label_re is not None:
        return using_attr(RegexLabeller(data.label_re), "name")
    if data.label_folder == "top":
        return TopFolderLabel(str(data.images_dir), depth=0 if data.folders is None else 1)
    return parent_label


def labelling(data: PreparedData) -> str:
    """How :func:`labeller` reads the classes of ``data``, as results record it (``config.labels``): with
    the data's fingerprint (file names and sizes) it decides every image's class."""
    if data.label_re is not None:
        return f"file names by {data.label_re!r}"
    return "top-level folders" if data.label_folder == "top" else "parent folders"


def splitter(data: PreparedData):
    """The ``splitter`` for ``data``: the folders' own split, or the chapter's random one."""
    folders = training_split(data)
    return random_splitter() if folders is None else FolderSplitter(str(data.images_dir), folders=folders)


def items_getter(data: PreparedData):
    """The ``get_items`` for ``data``: the files the check kept, in its order, or every image file but
    the skipped ones."""
    if data.items is None:
        return partial(image_files, exclude=data.skipped_files)
    return partial(listed_items, names=data.items)


def listed_items(source: Path, names: Sequence[str]) -> list[Path]:
    """``source/name`` for each of ``names``, in order."""
    source = Path(source)
    return [source / n for n in names]


def datablock(data: PreparedData, scale: Scale):
    """The chapter's DataBlock for ``data`` at ``scale``."""
    from fastai.data.block import CategoryBlock, DataBlock
    from fastai.vision.augment import Resize, aug_transforms
    from fastai.vision.data import ImageBlock

    return DataBlock(
        blocks=(ImageBlock, CategoryBlock),
        get_items=items_getter(data),
        splitter=splitter(data),
        get_y=labeller(data),
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
