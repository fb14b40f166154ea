"""Building the Learner: body weights loaded by name, mismatches named, fastai's splits kept."""
from __future__ import annotations

import pytest
import torch

from recipebench.train.learner import (
    WeightsError,
    body_state_dict,
    load_body_weights,
    read_state_dict,
)


def test_body_weights_load_and_the_head_is_ignored(registry):
    arch = registry.arch("resnet18")
    source = arch.build()
    state = {k: v + 1 if v.is_floating_point() else v for k, v in source.state_dict().items()}
    state["fc.weight"] = torch.zeros(7, 512)  # another task's head: ignored
    target = arch.build()
    got = load_body_weights(target, state, arch, origin="test")
    assert got["ignored"] == ["fc.bias", "fc.weight"]
    assert torch.equal(target.conv1.weight, state["conv1.weight"])
    assert not torch.equal(target.fc.weight[:7], state["fc.weight"])


def test_a_mismatch_names_the_layers(registry):
    resnet18, resnet34 = registry.arch("resnet18"), registry.arch("resnet34")
    with pytest.raises(WeightsError) as info:
        load_body_weights(resnet18.build(), resnet34.build().state_dict(), resnet18, origin="file x.pth")
    msg = str(info.value)
    assert "file x.pth do not fit resnet18" in msg and "unexpected: layer1.2." in msg


def test_wrong_shapes_are_named(registry):
    arch = registry.arch("resnet18")
    state = arch.build().state_dict()
    state["conv1.weight"] = torch.zeros(64, 1, 7, 7)
    with pytest.raises(WeightsError, match=r"wrong shape: conv1.weight \(file \(64, 1, 7, 7\)"):
        load_body_weights(arch.build(), state, arch, origin="x")


def test_missing_layers_are_named(registry):
    arch = registry.arch("mobilenet_v2")
    state = {k: v for k, v in arch.build().state_dict().items() if not k.startswith("features.18.")}
    with pytest.raises(WeightsError, match="missing: features.18.0.weight"):
        load_body_weights(arch.build(), state, arch, origin="x")


def test_a_checkpoint_without_num_batches_tracked_loads(registry):
    """Checkpoints saved before PyTorch 0.4.1 (torchvision's older ImageNet files among them) have no
    BatchNorm ``num_batches_tracked`` buffers: those are not weights, so the file is accepted."""
    arch = registry.arch("resnet18")
    source = arch.build()
    state = {k: v + 1 if v.is_floating_point() else v for k, v in source.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    target = arch.build()
    got = load_body_weights(target, state, arch, origin="old checkpoint")
    assert "bn1.num_batches_tracked" in got["filled"] and len(got["filled"]) == 20  # every BatchNorm of the body
    assert torch.equal(target.layer4[1].bn2.weight, state["layer4.1.bn2.weight"])
    assert int(target.bn1.num_batches_tracked) == 0
    del state["bn1.weight"]  # a real weight is still required
    with pytest.raises(WeightsError, match="missing: bn1.weight$"):
        load_body_weights(arch.build(), state, arch, origin="x")


def test_body_state_dict_uses_torchvision_names(registry):
    from fastai.vision.learner import create_body

    arch = registry.arch("resnet18")
    model = arch.build()
    body = create_body(model, cut=arch.cut)
    names = body_state_dict(body, arch.build(), arch)
    assert "conv1.weight" in names and "layer4.1.bn2.running_var" in names and "fc.weight" not in names
    fresh = arch.build()
    load_body_weights(fresh, names, arch, origin="roundtrip")
    assert torch.equal(fresh.layer4[1].bn2.running_var, model.layer4[1].bn2.running_var)


def test_read_state_dict_errors_name_the_file(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        read_state_dict(tmp_path / "none.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a pickle")
    with pytest.raises(WeightsError, match="junk.pth is not a file torch.save wrote"):
        read_state_dict(junk)
    evil = tmp_path / "object.pth"
    torch.save({"model": object()}, evil)  # weights_only=True refuses arbitrary objects
    with pytest.raises(WeightsError, match="object.pth"):
        read_state_dict(evil)


def test_splits_match_fastais_model_meta(registry):
    from fastai.vision.learner import create_body, model_meta
    from torchvision.models import resnet34

    arch = registry.arch("resnet34")
    model = torch.nn.Sequential(create_body(arch.build(), cut=arch.cut), torch.nn.Linear(512, 3))
    ours = arch.split(model)
    theirs = model_meta[resnet34]["split"](model)
    assert [len(g) for g in ours] == [len(g) for g in theirs]
    assert all(a is b for g1, g2 in zip(ours, theirs) for a, b in zip(g1, g2))
    assert arch.stats == tuple(tuple(s) for s in model_meta[resnet34]["stats"])
