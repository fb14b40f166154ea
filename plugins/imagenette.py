"""The next chapter's data, ``imagenette``: ``untar_data(URLs.IMAGENETTE)``, 10 ImageNet classes.

Which copy the scale reads: ``full`` the chapter's full-size Imagenette (``URLs.IMAGENETTE``,
``imagenette2``); ``smoke`` and ``quick`` the 160 px one (``URLs.IMAGENETTE_160``, ``imagenette2-160``),
a fraction of the download and of the decoding. The 320 px copy (``URLs.IMAGENETTE_320``) or any other
extracted one is read with ``--data-dir`` (e.g. ``--data-dir ~/.fastai/data/imagenette2-320``).

Where the images come from, as for ``pets``:

* ``--data-dir DIR``: an extracted copy, ``DIR/train/<synset>/*.JPEG`` and ``DIR/val/<synset>/*.JPEG``;
* otherwise fastai's own cache (``$FASTAI_HOME/data/imagenette2...``, default ``~/.fastai``), with no
  network when the data is already there;
* otherwise ``untar_data`` downloads it -- if the host answers within seconds. Offline, the error comes
  at once and names the URL, the cache folder and ``--data-dir``.

Split and labels: Imagenette's own ``train/`` and ``val/`` (``--split auto``, or ``folders:val``), the
same images for every seed and recipe. The chapter's ``DataBlock`` gives no splitter, so it drew a
``RandomSplitter`` over train and val together; ``--split random`` does that (with seed 42). An image's
class is its own folder, the synset (fastai's ``parent_label``, ``n01440764``); the class report names
them (``tench``). Weights: none by default, as the chapter trains from scratch (ImageNet weights have
learned these very classes). The scales train fastai's xresnets (``xresnet50`` at full, as the chapter).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from types import MappingProxyType

from recipebench import PreparedData, Scale, Workload, WorkloadRequest, checked_data, hookimpl
from recipebench.plugins.pets import fastai_data

NAME = "imagenette"
#: fastai's ``URLs.IMAGENETTE``, ``URLs.IMAGENETTE_160`` and ``URLs.IMAGENETTE_320`` (spelled out so that
#: registering the plugin does not import fastai).
IMAGENETTE_URL = "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2.tgz"
IMAGENETTE_160_URL = "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz"
IMAGENETTE_320_URL = "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz"
#: The copy each scale reads without --data-dir, and how the class report names it.
URLS = MappingProxyType({"smoke": IMAGENETTE_160_URL, "quick": IMAGENETTE_160_URL, "full": IMAGENETTE_URL})
URL_NAMES = MappingProxyType({IMAGENETTE_URL: "URLs.IMAGENETTE", IMAGENETTE_160_URL: "URLs.IMAGENETTE_160",
                              IMAGENETTE_320_URL: "URLs.IMAGENETTE_320"})
#: The ten synsets and their ImageNet names.
CLASS_NAMES = MappingProxyType({
    "n01440764": "tench", "n02102040": "English springer", "n02979186": "cassette player",
    "n03000684": "chain saw", "n03028079": "church", "n03394916": "French horn", "n03417042": "garbage truck",
    "n03425413": "gas pump", "n03445777": "golf ball", "n03888605": "parachute",
})
LAYOUT = "an extracted Imagenette (DIR/train/<synset>/*.JPEG and DIR/val/<synset>/*.JPEG)"

SCALES = MappingProxyType({
    # seconds: for tests. Epoch counts capped at 1 per call, lr_find shortened; pets' smoke sizes.
    "smoke": Scale("smoke", presize=128, image_size=96, batch_size=32, arch="xresnet18", deep_arch="xresnet34",
                   max_epochs_per_fit=1, lr_find_num_it=12, cpu_num_workers=0),
    # the chapter's epochs and learning rates at 128 px on the 160 px copy (presize 160: no upscaling). Not
    # pets' CPU minutes: every epoch is the whole train/ folder (9,469 images, as Imagenette publishes it).
    "quick": Scale("quick", presize=160, image_size=128, batch_size=32, arch="xresnet34", deep_arch="xresnet50",
                   cpu_num_workers=0),
    # the chapter: Resize(460), aug_transforms(size=224, min_scale=0.75), bs 64, xresnet50.
    "full": Scale("full", presize=460, image_size=224, batch_size=64, arch="xresnet50", deep_arch="xresnet101"),
})


def prepare(request: WorkloadRequest) -> PreparedData:
    if request.data_dir is not None:
        folder, what = Path(request.data_dir), f"Imagenette-layout folder {request.data_dir}"
    else:
        url = URLS.get(request.scale.name, IMAGENETTE_URL)
        folder, what = fastai_data(url, "the Imagenette images", LAYOUT), f"Imagenette, untar_data({URL_NAMES[url]})"
    data = checked_data(folder, request.label_re, request.cache_dir, what, label_folder=request.labels or "parent",
                        split=request.split, drop_small_classes=request.drop_small_classes, need_validation=False,
                        default_weights="none")
    named = [f"{c} {CLASS_NAMES[c]}" for c in data.class_counts if c in CLASS_NAMES]
    return dataclasses.replace(data, description=data.description + (f"; {', '.join(named)}" if named else ""))


@hookimpl
def recipebench_add_workloads(register):
    register(Workload(NAME, "the next chapter's Imagenette (untar_data(URLs.IMAGENETTE), _160 at smoke and quick;\n"
                            "or --data-dir DIR): its own train/ + val/ split, xresnets from scratch (no weights)",
                      prepare=prepare, scales=SCALES))
