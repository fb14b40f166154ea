"""The chapter's data, ``pets``: the Oxford-IIIT Pet images, ``untar_data(URLs.PETS)/'images'``.

Where the images come from:

* ``--data-dir DIR``: an existing folder in the Pets layout (``<breed>_<n>.jpg``), used as it is;
* otherwise fastai's own cache (``$FASTAI_HOME/data/oxford-iiit-pet``, default ``~/.fastai``), with
  no network when the data is already there;
* otherwise ``untar_data(URLs.PETS)`` downloads it -- if the host answers within seconds. Offline,
  the error comes at once and names the URL, the cache folder and ``--data-dir``.

Every file is checked before training (:mod:`recipebench.data.checks`). The default weights are torchvision's
ImageNet ones (``--weights imagenet``), as ``vision_learner`` would load.
"""
from __future__ import annotations

import os
from pathlib import Path
from types import MappingProxyType

from recipebench import (
    IMAGENET,
    PETS_LABEL_RE,
    PreparedData,
    Scale,
    Workload,
    WorkloadRequest,
    checked_data,
    hookimpl,
    probe,
    socket_timeout,
)

NAME = "pets"
#: fastai's ``URLs.PETS`` (spelled out so that registering the plugin does not import fastai).
PETS_URL = "https://s3.amazonaws.com/fast-ai-imageclas/oxford-iiit-pet.tgz"

SCALES = MappingProxyType({
    # seconds: for tests. Epoch counts capped at 1 per call, lr_find shortened.
    "smoke": Scale("smoke", presize=128, image_size=96, batch_size=32, arch="resnet18", deep_arch="resnet34",
                   max_epochs_per_fit=1, lr_find_num_it=12, cpu_num_workers=0),
    # CPU minutes: the chapter's epoch counts, learning rates and presize ratio (460/224) at 128 px.
    # On a CPU the images load in the main process (workers would take the training's cores); on CUDA and
    # at full scale with fastai's default workers, as the chapter did.
    "quick": Scale("quick", presize=262, image_size=128, batch_size=32, arch="resnet34", deep_arch="resnet50",
                   cpu_num_workers=0),
    # the chapter exactly: Resize(460), aug_transforms(size=224, min_scale=0.75), bs 64, resnet34 / resnet50.
    "full": Scale("full", presize=460, image_size=224, batch_size=64, arch="resnet34", deep_arch="resnet50"),
})


def fastai_home() -> Path:
    """``$FASTAI_HOME``, read now (fastai's own ``fastai_cfg`` caches it on first use), default ``~/.fastai``."""
    return Path(os.environ.get("FASTAI_HOME", "~/.fastai")).expanduser()


def pets_images(url: str = PETS_URL) -> Path:
    """``untar_data(url)/'images'``: from fastai's cache, else downloaded when ``url`` can be reached."""
    extracted = fastai_data(url, "the Pets images", "a folder of Pets-layout images (<breed>_<n>.jpg)")
    images = extracted / "images"
    if not images.is_dir():
        raise OSError(f"{extracted} holds no 'images' folder; delete it to download again, or pass --data-dir DIR")
    return images


def fastai_data(url: str, what: str, layout: str) -> Path:
    """``untar_data(url)``: the extracted folder in fastai's cache, else downloaded when ``url`` can be
    reached. Offline, an :class:`OSError` at once naming ``what`` (``the Pets images``), the URL, the cache
    folder and ``--data-dir DIR``, ``layout`` (what DIR must hold)."""
    import fastai.data
    from fastai.data.external import fastai_cfg, untar_data
    from fastdownload import FastDownload
    from fastdownload.core import urldest

    home = fastai_home()
    cfg = fastai_cfg.__wrapped__()  # fastai's config for the FASTAI_HOME of this moment (made if absent)
    download = FastDownload(cfg, module=fastai.data, base=str(home))
    download.arch_path().mkdir(parents=True, exist_ok=True)  # as FastDownload.get does: urldest needs it
    extracted = download.data_path("data", urldest(url, download.arch_path()))
    if not extracted.exists():
        unreachable = probe(url)
        if unreachable:
            raise OSError(
                f"{what} are not in fastai's cache ({extracted}) and {url} cannot be reached ({unreachable}). "
                f"Offline: pass --data-dir DIR, {layout}, or copy an "
                f"extracted '{extracted.name}' folder into {extracted.parent} (FASTAI_HOME={home})")
        print(f"recipebench: downloading {url} into {extracted.parent} (untar_data)", flush=True)
        try:
            with socket_timeout():
                extracted = untar_data(url, base=str(home))
        except Exception as exc:  # fastdownload raises bare Exceptions as well as OSErrors
            raise OSError(f"untar_data({url}) into {extracted.parent} failed: {type(exc).__name__}: {exc}; "
                          "retry, or pass --data-dir DIR with the images") from exc
    return extracted


def prepare(request: WorkloadRequest) -> PreparedData:
    if request.labels is not None:
        raise ValueError(f"--labels {request.labels}: pets labels by file name (--label-re); --labels is for "
                         "--workload folder")
    if request.data_dir is not None:
        folder, what = Path(request.data_dir), f"Pets-layout folder {request.data_dir}"
    else:
        folder, what = pets_images(), "Oxford-IIIT Pet, untar_data(URLs.PETS)/'images'"
    # need_validation=False: the chapter's split is the experiment; a sample of Pets may leave a breed with no
    # validation image (warned about), which is no reason to refuse the chapter's own split.
    return checked_data(folder, request.label_re or PETS_LABEL_RE, request.cache_dir, what, split=request.split,
                        drop_small_classes=request.drop_small_classes, need_validation=False,
                        default_weights=IMAGENET)


@hookimpl
def recipebench_add_workloads(register):
    register(Workload(NAME, "the chapter's Oxford-IIIT Pet images (untar_data(URLs.PETS), or --data-dir), "
                            "ImageNet weights", prepare=prepare, scales=SCALES))
