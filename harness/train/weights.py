"""``--weights imagenet[:VERSION]``: torchvision's ImageNet weights, from its cache or downloaded.

The file is the one ``torchvision.models.<arch>(weights=...)`` would use: torchvision's weights enum
names the URL, and the file lives in ``$TORCH_HOME/hub/checkpoints`` (default
``~/.cache/torch/hub/checkpoints``) under the URL's file name. A cached file is used with no
network at all; an absent one is downloaded when the host answers within seconds, and otherwise
the error names the URL, the cache path and the offline alternatives.

Which version: each :class:`~recipebench.api.Arch` names its ``imagenet_weights`` (for resnet50
torchvision's DEFAULT, ``IMAGENET1K_V2``, which is what ``vision_learner(dls, resnet50)`` loads in
fastai 2.8 -- newer and better than the ``IMAGENET1K_V1`` weights the 2020 chapter was measured
with). ``--weights imagenet:IMAGENET1K_V1`` picks a version explicitly; results say which one ran.
"""
from __future__ import annotations

import re
import warnings
from functools import partial
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from recipebench.data import fetch
from recipebench.api import Arch, WeightsFile
from recipebench.record.atomic import sha256_file

IMAGENET = "imagenet"
#: The weights the 2020 chapter's numbers were measured with (torchvision's only ones back then).
CHAPTER_VERSION = "IMAGENET1K_V1"
#: torchvision's file names carry the first hex digits of the file's sha256: ``resnet50-0676ba61.pth``.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")


def source_for(choice: str) -> Callable[[Arch], WeightsFile] | None:
    """The weight source a ``--weights`` value names, if it is ``imagenet`` or ``imagenet:VERSION``."""
    name, sep, version = choice.partition(":")
    if name != IMAGENET or (sep and not version):
        return None
    return partial(imagenet_weights, version=version or None)


def cache_path(url: str) -> Path:
    """Where ``torch.hub.load_state_dict_from_url`` keeps ``url``: ``$TORCH_HOME/hub/checkpoints/<name>``."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def imagenet_weights(arch: Arch, version: str | None = None) -> WeightsFile:
    """torchvision's ImageNet weights for ``arch`` (``version``: an enum member name, default the arch's)."""
    from torchvision.models import get_model_weights

    try:
        enum = get_model_weights(arch.name)
    except ValueError:
        raise ValueError(f"torchvision has no ImageNet weights for arch {arch.name!r}; "
                         "pass --weights PATH to a state dict, or --weights none") from None
    version = version or arch.imagenet_weights or "DEFAULT"
    try:
        member = enum[version]
    except KeyError:
        known = ", ".join(m.name for m in enum)
        raise ValueError(f"{enum.__name__} has no version {version!r}; choose from {known} "
                         f"(--weights imagenet:{next(iter(enum)).name})") from None
    path = cache_path(member.url)
    match = _HASH_IN_NAME.search(path.name)
    prefix = match.group(1) if match else None
    label = f"{enum.__name__}.{member.name}"
    damage = _damage(path, prefix) if path.is_file() else None
    if damage or not path.is_file():
        unreachable = fetch.probe(member.url)
        if unreachable:
            where = (f"{label} in torch's cache, {path}, is damaged ({damage})" if damage
                     else f"{label} is not in torch's cache ({path})")
            raise OSError(
                f"{where} and {member.url} cannot be reached ({unreachable}). "
                f"Offline: copy a sound {path.name} into {path.parent} (or point TORCH_HOME at a folder whose "
                "hub/checkpoints holds it), or pass --weights PATH to a local state dict, or --weights none")
        if damage:  # a download cut off by an older torch or a full disk: fetched again, and said
            warnings.warn(f"{label} in torch's cache, {path}, is damaged ({damage}): downloading it again from "
                          f"{member.url}", stacklevel=2)
        else:
            print(f"recipebench: downloading {label} from {member.url} to {path}", flush=True)
        fetch.download_file(member.url, path, sha256_prefix=prefix)
    sha256 = sha256_file(path)
    if prefix and not sha256.startswith(prefix):
        warnings.warn(f"{path}: sha256 {sha256[:12]}... does not start with {prefix} as torchvision's file name "
                      f"says; it is not {label} as published (recorded in the result)", stacklevel=2)
    return WeightsFile(source=IMAGENET, path=path, sha256=sha256, detail=_detail(enum, member, sha256, prefix))


def _damage(path: Path, prefix: str | None) -> str | None:
    """Why the cached ``path`` cannot be used, or None: a file whose sha256 does not start with the
    ``prefix`` its name promises is damaged when torch cannot load it (one that loads is used, and the
    result records that it is not the published file)."""
    from recipebench.train.learner import why_unloadable

    if prefix is None or sha256_file(path).startswith(prefix):
        return None
    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        return f"its sha256 does not start with {prefix} and it {why_unloadable(path, exc)}"
    return None


def _detail(enum, member, sha256: str, prefix: str | None) -> dict[str, Any]:
    metrics = member.meta.get("_metrics", {}).get("ImageNet-1K", {})
    chapter = enum.__members__.get(CHAPTER_VERSION)
    if member is chapter:
        note = "the version the 2020 chapter's numbers were measured with"
    elif chapter is not None:
        note = (f"newer than {enum.__name__}.{CHAPTER_VERSION}, which the 2020 chapter's numbers were measured "
                f"with; --weights imagenet:{CHAPTER_VERSION} selects that one")
    else:
        note = "torchvision publishes no IMAGENET1K_V1 for this arch"
    return {
        "torchvision_weights": f"{enum.__name__}.{member.name}",
        "torchvision_default": f"{enum.__name__}.{enum.DEFAULT.name}",
        "url": member.url,
        "imagenet_acc@1": metrics.get("acc@1"),
        "sha256_matches_published_prefix": None if prefix is None else sha256.startswith(prefix),
        "note": note,
    }
