"""``recipebench show-batch`` and ``recipebench summary``: look at a workload's data before training on it, as the
chapter does: a grid of augmented training images with their labels (``dls.show_batch()``) and fastai's
``DataBlock.summary()``.

Works for every registered workload, the built-in ones and any a plugin adds, with the session's own
data preparation (:meth:`recipebench.api.Workload.prepare`: generated, downloaded or checked file by
file) and the chapter's DataBlock at the chosen scale (:func:`recipebench.data.datablock.datablock`). Nothing is
trained and no weights are made.
"""
from __future__ import annotations

import argparse
import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

from recipebench.data import datablock as data_mod
from recipebench.api import PreparedData, Scale, WorkloadRequest
from recipebench.commands.arguments import add_options, wrote
from recipebench.registry import Registry, UnknownNameError, load_registry
from recipebench.suite.options import Options, from_values

#: Images in the grid, and the seed of the batch shown (its shuffling and augmentation).
GRID_IMAGES = 16
SEED = 0


class DataLookError(ValueError):
    """The workload's data cannot be prepared; the message names the option or file."""


@dataclass(frozen=True)
class Looked:
    """A workload's data, ready to look at."""

    workload: str
    scale: Scale
    data: PreparedData


def prepare(registry: Registry, options: Options, cache_dir: Path) -> Looked:
    """The data of ``options.workload`` at ``options.scale`` (default: quick), prepared on the CPU as a
    session prepares it (``--data-dir``, ``--label-re``, ``--labels``, ``--split``, ``--drop-small-classes``)."""
    import torch

    o = options
    try:
        w = registry.workload(o.workload)
    except UnknownNameError as exc:
        raise DataLookError(str(exc)) from None
    name = o.scale or "quick"
    if name not in w.scales:
        raise DataLookError(f"--scale {name!r}: workload {o.workload!r} has {', '.join(w.scales)}")
    request = WorkloadRequest(scale=w.scales[name], cache_dir=Path(cache_dir), device=torch.device("cpu"),
                              data_dir=o.data_dir, label_re=o.label_re, labels=o.labels, split=o.split,
                              drop_small_classes=o.drop_small_classes)
    try:
        prepared = w.prepare(request)
    except (OSError, ValueError, RuntimeError) as exc:
        raise DataLookError(f"workload {o.workload!r}: {exc}") from exc
    return Looked(o.workload, w.scales[name], prepared)


def show_batch(looked: Looked, max_n: int = GRID_IMAGES) -> bytes:
    """A PNG grid of ``max_n`` augmented training images, each titled with its label."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import torch
    from fastai.torch_core import set_seed

    set_seed(SEED, reproducible=True)
    dls = data_mod.dataloaders(looked.data, looked.scale, torch.device("cpu"))
    if len(dls.train) == 0:  # fastai drops the last partial batch: fewer images than one batch leave none
        raise DataLookError(f"workload {looked.workload!r}: {len(dls.train_ds)} training images are fewer than one "
                            f"batch of {looked.scale.batch_size} at scale {looked.scale.name}: nothing to show")
    side = int(max_n ** 0.5)
    dls.train.show_batch(max_n=max_n, nrows=side, ncols=max(1, max_n // side), figsize=(10, 10.6), unique=False)
    fig = plt.gcf()
    s = looked.scale
    fig.suptitle(f"{looked.workload}, scale {s.name}: augmented training images, Resize({s.presize}) then "
                 f"aug_transforms(size={s.image_size}); {len(dls.vocab)} classes, "
                 f"{len(dls.train_ds)} train / {len(dls.valid_ds)} valid", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100)
    plt.close("all")
    return out.getvalue()


def summary(looked: Looked) -> str:
    """fastai's ``DataBlock.summary`` of the chapter's DataBlock on the workload's folder (what it prints)."""
    from fastai.torch_core import set_seed

    set_seed(SEED, reproducible=True)
    block = data_mod.datablock(looked.data, looked.scale)
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        block.summary(looked.data.images_dir, bs=4)
    return text.getvalue()


#: The session options show-batch and summary take (from the suite's OPTION_TABLE).
DATA_OPTIONS = ("workload", "scale", "data_dir", "label_re", "labels", "split", "drop_small_classes", "cache_dir",
                "plugins_dir")


def add_show_batch(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("show-batch", help="--workload W --out FILE.png: augmented training images with their labels",
                       description="Prepare a workload's data as the suite does (nothing is trained) and write a "
                                   "grid of augmented training images, each titled with its label: the chapter's "
                                   "dls.show_batch().")
    add_options(p, DATA_OPTIONS)
    p.add_argument("--out", type=Path, required=True, metavar="FILE.png",
                   help="the PNG to write; an existing file is never overwritten: the next free name is taken")
    p.set_defaults(func=run_show_batch)
    return p


def add_summary(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("summary", help="--workload W: fastai's DataBlock.summary of a workload's data",
                       description="Prepare a workload's data as the suite does (nothing is trained) and print "
                                   "fastai's DataBlock.summary: every step from a file to a batch.")
    add_options(p, DATA_OPTIONS)
    p.set_defaults(func=run_summary)
    return p


def _looked(args: argparse.Namespace):
    from recipebench.data.cache import default_cache_dir

    options = from_values({dest: getattr(args, dest) for dest in DATA_OPTIONS})
    return prepare(load_registry(options.plugins_dir), options, options.cache_dir or default_cache_dir())


def run_show_batch(args: argparse.Namespace) -> int:
    from recipebench.record.atomic import atomic_write

    asked = Path(args.out)
    wrote(atomic_write(asked, show_batch(_looked(args)), overwrite=False), asked)
    return 0


def run_summary(args: argparse.Namespace) -> int:
    print(summary(_looked(args)), end="")
    return 0
