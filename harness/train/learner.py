"""The learner stage: what ``vision_learner(dls, arch, metrics=error_rate)`` builds (with every registered
metric, error_rate first), with the weights loaded from a file the harness names (never a silent download).

Spelled out because ``vision_learner`` only knows pretrained weights it downloads itself, and it
drops its ``cut=`` argument for torchvision architectures. The steps are fastai's own:
``create_body`` -> ``add_head`` -> ``Learner(splitter=...)`` -> Normalize with the arch's stats ->
``freeze()`` when the body is pretrained.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping, Sequence

from recipebench.train import precision as precision_mod
from recipebench.api import Arch, Metric, WeightsFile
from recipebench.record.environment import is_cuda


class WeightsError(ValueError):
    """Weights that do not fit the architecture; the message names the file and the layers."""


def _body_children(model, arch: Arch) -> list[str]:
    names = [name for name, _ in model.named_children()]
    if callable(arch.cut):
        return names
    return names[: arch.cut]


def load_body_weights(model, state_dict: Mapping, arch: Arch, origin: str) -> dict[str, list[str]]:
    """Load the body part of a torchvision-style ``state_dict`` into torchvision ``model``.

    Keys of the layers after the cut (the ImageNet classifier) are ignored. Body keys that are
    missing, unexpected or of the wrong shape raise :class:`WeightsError` naming them, except BatchNorm's
    ``num_batches_tracked`` buffers, which are not weights: absent ones keep the model's own.
    Returns the ignored head keys and the filled buffers (``{"ignored": [...], "filled": [...]}``).
    """
    body = set(_body_children(model, arch))
    own = model.state_dict()
    top = lambda key: key.split(".", 1)[0]  # noqa: E731
    wanted = {k for k in own if top(k) in body}
    given = {k: v for k, v in state_dict.items() if top(k) in body}
    # BatchNorm's ``num_batches_tracked`` counters are not weights (checkpoints saved before PyTorch 0.4.1,
    # torchvision's older ImageNet files among them, have none): where absent, the model's own are kept.
    filled = sorted(k for k in wanted - given.keys() if k.endswith(".num_batches_tracked"))
    missing = sorted(wanted - given.keys() - set(filled))
    unexpected = sorted(k for k in state_dict if k not in own)
    unexpected_body = [k for k in unexpected if top(k) in body]
    mismatched = sorted(
        f"{k} (file {tuple(v.shape)}, {arch.name} {tuple(own[k].shape)})"
        for k, v in given.items() if k in own and tuple(v.shape) != tuple(own[k].shape)
    )
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected_body), ("wrong shape", mismatched)):
        if keys:
            shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise WeightsError(f"weights {origin} do not fit {arch.name}: " + "; ".join(problems))
    model.load_state_dict({**own, **given})
    return {"ignored": sorted(k for k in state_dict if top(k) not in body), "filled": filled}


def read_state_dict(path: Path) -> dict:
    """``torch.load(path, weights_only=True)``, with errors that name the file."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"weights file {path} does not exist") from None
    except Exception as exc:
        raise WeightsError(f"weights file {path} {why_unloadable(path, exc)}") from None
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise WeightsError(f"weights file {path} holds a {type(state).__name__}, not a state dict")
    return dict(state)


#: How a file that ``torch.save`` wrote begins: a zip archive (PyTorch 1.6 on), or a pickle (the legacy format).
TORCH_FILE_STARTS = (b"PK\x03\x04", b"\x80")
_UNSAFE_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")


def why_unloadable(path: Path, exc: Exception) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, in one line: empty, truncated or corrupt, not a
    torch file, or holding objects other than tensors (torch's own messages run over many lines)."""
    try:
        with open(path, "rb") as f:
            start = f.read(16)
        size = path.stat().st_size
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    if size == 0:
        return "is empty (0 bytes)"
    unsafe = _UNSAFE_GLOBAL.search(str(exc))
    if unsafe:
        return (f"holds objects other than tensors (torch.load(weights_only=True) refuses {unsafe.group(1)}): "
                "save model.state_dict() instead")
    if not start.startswith(TORCH_FILE_STARTS):
        return f"is not a file torch.save wrote ({size:,} bytes, starting {start[:12]!r})"
    first = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()[0] if str(exc).strip() else ""
    first = first.split(". ", 1)[0].rstrip(".")
    return (f"is truncated or corrupt ({size:,} bytes; torch.load: {type(exc).__name__}"
            + (f": {first}" if first else "") + ")")


def body_state_dict(body, model_template, arch: Arch) -> dict:
    """The state dict of a fastai body (``create_body`` output) under torchvision's key names."""
    names = _body_children(model_template, arch)
    out = {}
    for key, value in body.state_dict().items():
        index, rest = key.split(".", 1)
        out[f"{names[int(index)]}.{rest}"] = value.detach().clone()
    return out


def add_normalize(dls, arch: Arch, device) -> None:
    """``Normalize.from_stats(*arch.stats)`` at the end of ``dls``' batch transforms, unless one is there."""
    from fastai.data.transforms import Normalize

    if not any(isinstance(t, Normalize) for t in dls.after_batch.fs):
        dls.add_tfms([Normalize.from_stats(*arch.stats, cuda=is_cuda(device))], "after_batch")


def fastai_metrics(metrics: Sequence[Metric]) -> list:
    """The registered ``metrics`` as ``Learner(metrics=...)`` takes them, each named as registered and fresh
    (:class:`recipebench.train.callbacks.NamedMetric`); those fastai's Recorder records itself (``compute``
    None: valid_loss) are not passed."""
    from recipebench.train.callbacks import NamedMetric

    return [NamedMetric(m) for m in metrics if m.compute is not None]


def build_learner(dls, arch: Arch, weights: WeightsFile | None, precision: str, device, path: Path,
                  normalize: bool | None = None, loss_func=None, cbs=(), metrics: Sequence[Metric] = ()):
    """A Learner for ``dls``: ``arch`` with ``weights`` in its body (or random), a fresh fastai head,
    ``metrics`` (the registered ones; none given: fastai's ``error_rate``, the chapter's), frozen when
    pretrained, set up for ``precision`` on ``device``; ``loss_func`` (None: the DataLoaders' default) and
    ``cbs`` as ``Learner(loss_func=, cbs=)`` takes them."""
    import fastai.vision.all  # noqa: F401  the chapter's environment: patches Learner with fine_tune, lr_find, to_fp16...
    import torch.nn as nn
    from fastai.learner import Learner
    from fastai.metrics import error_rate
    from fastai.vision.learner import add_head, create_body, num_features_model

    model = arch.build()
    if weights is not None:
        load_body_weights(model, read_state_dict(weights.path), arch, origin=f"{weights.source} ({weights.path})")
    body = create_body(model, n_in=3, pretrained=weights is not None, cut=arch.cut)
    nf = num_features_model(nn.Sequential(*body.children()))
    net = add_head(body, nf, dls.c, init=nn.init.kaiming_normal_)
    if (weights is not None) if normalize is None else normalize:
        add_normalize(dls, arch, device)
    learn = Learner(dls, net, loss_func=loss_func, splitter=arch.split,
                    metrics=fastai_metrics(metrics) if metrics else error_rate, path=path, cbs=list(cbs))
    if weights is not None:
        learn.freeze()
    precision_mod.apply(learn, precision, device)
    return learn
