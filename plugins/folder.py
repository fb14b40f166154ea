"""``folder``: any folder of images of yours (``--data-dir DIR``), trained like the chapter's pets.

Classes are the top-level folders, ``DIR/<class>/...``, with every image below one at any depth
(torchvision's ``ImageFolder``); ``--labels parent`` takes each image's own folder (fastai's
``parent_label``), ``--label-re REGEX`` a regex on the file names (one group: the label). A folder that
comes split (``DIR/train/<class>/...`` with ``DIR/valid/`` or ``DIR/val/``) trains on that split
(``--split random`` for the chapter's). Every file is checked, and every class counted, before
training (:mod:`recipebench.data.checks`); the scales and the default ImageNet weights are the ``pets``
workload's.
"""
from __future__ import annotations

from recipebench import (
    IMAGENET,
    PreparedData,
    Workload,
    WorkloadRequest,
    checked_data,
    hookimpl,
)
from recipebench.plugins.pets import SCALES

NAME = "folder"
CLASSES = {"top": "classes: top-level folders", "parent": "classes: each image's parent folder"}


def prepare(request: WorkloadRequest) -> PreparedData:
    if request.data_dir is None:
        raise ValueError(f"workload {NAME!r} trains on a folder of yours: pass --data-dir DIR (classes are its "
                         "top-level folders, DIR/<class>/..., or --label-re REGEX labels by file name)")
    label_folder = request.labels or "top"
    how = f"labels from {request.label_re!r}" if request.label_re else CLASSES[label_folder]
    return checked_data(request.data_dir, request.label_re, request.cache_dir, f"folder {request.data_dir} ({how})",
                        label_folder=label_folder, split=request.split, drop_small_classes=request.drop_small_classes,
                        default_weights=IMAGENET)


@hookimpl
def recipebench_add_workloads(register):
    register(Workload(NAME, "any image folder (--data-dir DIR), ImageNet weights;\n"
                            "class = top-level folder, DIR/<class>/... at any depth (--labels parent, --label-re);\n"
                            "DIR/train/ + DIR/valid/ (or val/): that split (--split)", prepare=prepare, scales=SCALES))
