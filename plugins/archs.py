"""Built-in architectures: torchvision models with the cut, split and stats fastai uses for them.

The resnets mirror ``fastai.vision.learner.model_meta``; mobilenet_v2 is not in fastai's table
(vision_learner would give it no cut and no ImageNet normalisation), so it is described here.

The xresnets are fastai's own (``fastai.vision.models.xresnet``, the next chapter's ``xresnet50()``)
with fastai's own cut and split from ``model_meta``. No pretrained weights are published for them:
they train from random initialisation (``--weights none``, the Imagenette workload's default).
"""
from __future__ import annotations

from recipebench import Arch, hookimpl

IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def _params(module) -> list:
    return [p for p in module.parameters()]


def resnet_split(model) -> list:
    """fastai's ``_resnet_split``: stem + layers 1-2, layers 3-4, head."""
    return [_params(model[0][:6]), _params(model[0][6:]), _params(model[1:])]


def body_head_split(model) -> list:
    """fastai's ``default_split``: body, head."""
    return [_params(model[0]), _params(model[1:])]


def xresnet_split(model) -> list:
    """fastai's ``_xresnet_split``: the stem's three convolutions, the rest of the body, the head."""
    from fastai.vision.learner import _xresnet_split

    return list(_xresnet_split(model))


def _xresnet(name: str):
    def build():
        from fastai.vision.models import xresnet

        return getattr(xresnet, name)()  # fastai's own model, as the chapter's xresnet50(): random init

    build.__name__ = f"build_{name}"
    return build


def _torchvision(name: str):
    def build():
        import torchvision

        return getattr(torchvision.models, name)(weights=None)

    build.__name__ = f"build_{name}"
    return build


@hookimpl
def recipebench_add_archs(register):
    for name, weights in (("resnet18", "IMAGENET1K_V1"), ("resnet34", "IMAGENET1K_V1"), ("resnet50", "IMAGENET1K_V2")):
        # torchvision's DEFAULT for resnet50 is IMAGENET1K_V2, newer than the 2020 chapter's V1.
        register(Arch(name, _torchvision(name), cut=-2, split=resnet_split, stats=IMAGENET_STATS, imagenet_weights=weights))
    register(
        Arch("mobilenet_v2", _torchvision("mobilenet_v2"), cut=-1, split=body_head_split, stats=IMAGENET_STATS,
             imagenet_weights="IMAGENET1K_V2")
    )
    for name in ("xresnet18", "xresnet34", "xresnet50", "xresnet101"):
        # fastai's model_meta for xresnets: cut=-4 (before the pool, flatten, dropout and linear), _xresnet_split.
        register(Arch(name, _xresnet(name), cut=-4, split=xresnet_split, stats=IMAGENET_STATS))
