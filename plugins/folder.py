"""``folder``: any folder of images of yours (``--data-dir DIR``), trained like the chapter's pets.

Labels come from a regex on each file name (``--label-re '(.+)_\\d+\\.jpg$'``, one group: the label)
or, without ``--label-re``, from each image's parent folder (``DIR/<class>/<image>``, fastai's
``parent_label``). Every file is checked before training (:mod:`recipebench.checks`); the scales and
the default ImageNet weights are the ``pets`` workload's.
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


def prepare(request: WorkloadRequest) -> PreparedData:
    if request.data_dir is None:
        raise ValueError(f"workload {NAME!r} trains on a folder of yours: pass --data-dir DIR (labelled by "
                         "--label-re REGEX on file names, or else by each image's parent folder name)")
    how = f"labels from {request.label_re!r}" if request.label_re else "labels from parent folders"
    return checked_data(request.data_dir, request.label_re, request.cache_dir, f"folder {request.data_dir} ({how})",
                        default_weights=IMAGENET)


@hookimpl
def recipebench_add_workloads(register):
    register(Workload(NAME, "any image folder (--data-dir), labelled by --label-re or parent folder; "
                            "ImageNet weights", prepare=prepare, scales=SCALES))
