"""Pretraining a body on generated source classes: the offline stand-in for ImageNet weights.

The synthetic workload's recipes are about transfer learning, so its architectures need a body that
has really learnt something. :func:`pretrained_body` trains ``arch`` from random init on a separate
set of source classes (disjoint from the target classes), once, and caches the body's weights as a
torchvision-style state dict keyed by everything that changes them (arch, source data fingerprint,
settings, device type, library versions), with its sha256. Later runs load it with ``torch.load(weights_only=True)``;
an entry whose file no longer has that sha256 (cut off, corrupt) or whose record is damaged is made again, with a
warning naming the file.
"""
from __future__ import annotations

import io
import json
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from recipebench.data import datablock as data_mod
from recipebench.api import Arch, PreparedData, Scale, WeightsFile
from recipebench.data.cache import cache_key
from recipebench.record.environment import versions
from recipebench.record.atomic import atomic_write, sha256_file
from recipebench.train.learner import WeightsError, body_state_dict, build_learner, read_state_dict


@dataclass(frozen=True)
class PretrainSettings:
    """How a body is pretrained on a workload's source classes."""

    epochs: int
    lr_max: float
    presize: int  # px
    image_size: int  # px
    batch_size: int
    seed: int = 0
    #: (arch name, epochs) for architectures that train other than ``epochs`` (a deeper, slower one).
    arch_epochs: tuple[tuple[str, int], ...] = ()

    def for_arch(self, name: str) -> PretrainSettings:
        """These settings as ``name`` is pretrained with: its own epoch count, if it has one."""
        return replace(self, epochs=dict(self.arch_epochs).get(name, self.epochs), arch_epochs=())

    def key(self) -> dict[str, Any]:
        """What identifies the training (for the cache key): everything but the per-arch table."""
        return {k: v for k, v in asdict(self).items() if k != "arch_epochs"}


def pretrained_body(arch: Arch, source: PreparedData, settings: PretrainSettings, cache_dir: Path, device,
                    label: str, extra_key: Mapping[str, Any],
                    progress: Callable[[int, int, str], None] | None = None) -> WeightsFile:
    """The cached body weights for ``arch`` pretrained on ``source``; trains them on first use, telling
    ``progress(done, total, what)`` after each batch (``what``: "epoch k/n, batches")."""
    v = versions()
    settings = settings.for_arch(arch.name)
    key_params = {
        "arch": arch.name, "source": source.fingerprint, "settings": settings.key(),
        "device": getattr(device, "type", str(device)),
        "versions": {k: v[k] for k in ("torch", "torchvision", "fastai")},
        **extra_key,
    }
    key = cache_key(key_params)
    path = Path(cache_dir) / "weights" / f"{label}-{arch.name}-{key}.pth"
    meta_path = path.with_suffix(".json")
    meta, damage = _cached(path, meta_path)
    if meta is None:
        if damage:  # a cut-off copy, a full disk, a bad sector: made again, and said
            warnings.warn(f"{damage}: rebuilt (pretraining {arch.name} on {label} again)", stacklevel=2)
        meta = _train(arch, source, settings, device, path, key_params, progress)
        meta["sha256"] = sha256_file(path)
        atomic_write(meta_path, json.dumps(meta, indent=2))
    detail = {k: v for k, v in meta.items() if k != "sha256"}  # the checksum is the WeightsFile's own field
    return WeightsFile(source=label, path=path, sha256=meta["sha256"], detail=detail)


def _cached(path: Path, meta_path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The record of the cache entry ``path`` (with ``meta_path``) if the entry is sound; else None, with
    what is damaged (None when there is no entry). The weights must have the sha256 recorded when they
    were made; an entry made before the checksum was recorded must load, and gets it recorded now."""
    if not (path.exists() and meta_path.exists()):
        return None, None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"cached weights record {meta_path} is damaged ({type(exc).__name__}: {exc})"
    if not isinstance(meta, dict):
        return None, f"cached weights record {meta_path} is damaged (a JSON {type(meta).__name__}, not an object)"
    sha256 = sha256_file(path)
    recorded = meta.get("sha256")
    if recorded is None:
        try:
            read_state_dict(path)
        except WeightsError as exc:
            return None, f"cached {exc}"
        meta["sha256"] = sha256
        atomic_write(meta_path, json.dumps(meta, indent=2))
    elif recorded != sha256:
        return None, (f"cached weights file {path} is damaged (sha256 {sha256[:12]}..., not the {recorded[:12]}... "
                      "recorded when it was made)")
    return meta, None


def _train(arch: Arch, source: PreparedData, settings: PretrainSettings, device, path: Path,
           key_params: Mapping[str, Any], progress: Callable[[int, int, str], None] | None = None) -> dict[str, Any]:
    import torch
    from fastai.torch_core import set_seed

    from recipebench.train.callbacks import BatchProgress, SkipValidation

    set_seed(settings.seed, reproducible=True)
    scale = Scale("pretrain", settings.presize, settings.image_size, settings.batch_size, arch.name, arch.name,
                  cpu_num_workers=0)
    dls = data_mod.dataloaders(source, scale, device)
    with tempfile.TemporaryDirectory(prefix="recipebench-pretrain-") as tmp:
        learn = build_learner(dls, arch, weights=None, precision="fp32", device=device, path=Path(tmp), normalize=True)
        t0 = time.perf_counter()
        with learn.no_bar(), learn.no_logging():
            cbs = [SkipValidation()] + ([BatchProgress(progress)] if progress is not None else [])
            learn.fit_one_cycle(settings.epochs, settings.lr_max, cbs=cbs)  # validated once, below
            wall_s = time.perf_counter() - t0
            valid_loss, err = learn.validate()
    state = body_state_dict(learn.model[0], arch.build(), arch)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, buffer.getvalue())
    return {
        "what": f"{arch.name} trained from random init on {len(dls.vocab)} generated source classes, "
                "disjoint from the target classes; body only",
        "source_classes": len(dls.vocab),
        "source_images": source.n_files,
        "epochs": settings.epochs,
        "lr_max": settings.lr_max,
        "image_size": settings.image_size,
        "source_valid_error_rate": float(err),
        "train_wall_s": round(wall_s, 2),
        "key": key_params,
    }
