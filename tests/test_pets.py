"""The pets workload and ImageNet weights: caches first, clear errors at once when offline, no network in tests."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import torch

from recipebench.data import fetch
from recipebench.api import WorkloadRequest
from recipebench.data.datablock import PETS_LABEL_RE
from recipebench.suite.options import Options
from recipebench.plugins import pets
from recipebench.record.results import validate
from recipebench.suite.session import BenchSession, WorkloadError
from recipebench.train.weights import cache_path, imagenet_weights
from tests.conftest import REPO, offline_env
from tests.images import ODD, PER_CLASS, UNREADABLE, add_bad_files, pets_tree

OFFLINE = socket.gaierror(-2, "Name or service not known")


@pytest.fixture
def offline(monkeypatch):
    """No network: every connection attempt fails as it does on a machine with no DNS."""
    def refuse(*args, **kwargs):
        raise OFFLINE

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(fetch, "download_file", lambda *a, **k: pytest.fail("tried to download"))


@pytest.fixture
def no_network_needed(monkeypatch):
    """Fail the test if anything so much as probes the network."""
    probed = lambda url, *a: pytest.fail(f"probed {url}")  # noqa: E731
    monkeypatch.setattr(fetch, "probe", probed)
    monkeypatch.setattr(pets, "probe", probed)


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


def request(tmp_path, **kw) -> WorkloadRequest:
    return WorkloadRequest(scale=pets.SCALES["smoke"], cache_dir=tmp_path / "cache", **kw)


def test_the_url_is_fastais():
    from fastai.data.external import URLs

    assert pets.PETS_URL == URLs.PETS


@pytest.mark.parametrize("name", ["synthetic", "pets", "folder"])
def test_every_built_in_workloads_full_scale_is_the_chapter(registry, name):
    scales = registry.workload(name).scales
    full = scales["full"]
    assert (full.presize, full.image_size, full.batch_size, full.arch, full.deep_arch) == (
        460, 224, 64, "resnet34", "resnet50")
    assert full.max_epochs_per_fit is None and full.lr_find_num_it is None
    assert scales["quick"].max_epochs_per_fit is None and scales["quick"].lr_find_num_it is None


def test_offline_with_nothing_cached_fails_at_once_and_says_what_to_do(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("FASTAI_HOME", str(tmp_path / "fastai-home"))
    t0 = time.perf_counter()
    with pytest.raises(OSError) as info:
        pets.prepare(request(tmp_path))
    assert time.perf_counter() - t0 < 5
    msg = str(info.value)
    assert pets.PETS_URL in msg and "--data-dir" in msg and "Name or service not known" in msg
    assert str(tmp_path / "fastai-home" / "data" / "oxford-iiit-pet") in msg


def test_pets_in_fastais_cache_are_used_without_network(tmp_path, monkeypatch, no_network_needed):
    home = tmp_path / "fastai-home"
    pets_tree(home / "data" / "oxford-iiit-pet" / "images")
    monkeypatch.setenv("FASTAI_HOME", str(home))
    data = pets.prepare(request(tmp_path))
    assert data.images_dir == home / "data" / "oxford-iiit-pet" / "images"
    assert (data.n_files, data.label_re, data.default_weights) == (2 * PER_CLASS, PETS_LABEL_RE, "imagenet")


def test_data_dir_and_label_re(tmp_path, no_network_needed):
    tree = pets_tree(tmp_path / "mine", classes=("a_cat", "b_dog"))
    assert pets.prepare(request(tmp_path, data_dir=tree)).images_dir == tree
    got = pets.prepare(request(tmp_path, data_dir=tree, label_re=r"^([ab])_"))
    assert got.label_re == r"^([ab])_" and "2 classes" in got.description


def test_imagenet_weights_come_from_torchs_cache(registry, torch_home, no_network_needed):
    arch = registry.arch("resnet18")
    from torchvision.models import ResNet18_Weights

    path = cache_path(ResNet18_Weights.IMAGENET1K_V1.url)
    assert path == torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(arch.build().state_dict(), path)  # not the published file: its hash says so
    with pytest.warns(UserWarning, match="does not start with f37072fd"):
        got = imagenet_weights(arch)
    assert (got.source, got.path) == ("imagenet", path)
    assert got.detail["torchvision_weights"] == "ResNet18_Weights.IMAGENET1K_V1"
    assert got.detail["sha256_matches_published_prefix"] is False
    assert "the version the 2020 chapter" in got.detail["note"]


def test_resnet50_says_which_version_ran(registry, torch_home, no_network_needed):
    from torchvision.models import ResNet50_Weights

    arch = registry.arch("resnet50")
    import torch

    for member in (ResNet50_Weights.IMAGENET1K_V1, ResNet50_Weights.IMAGENET1K_V2):
        cache_path(member.url).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"stand_in": torch.zeros(1)}, cache_path(member.url))  # loads, so not taken for a damaged copy
    with pytest.warns(UserWarning):
        default, chapter = imagenet_weights(arch), imagenet_weights(arch, "IMAGENET1K_V1")
    assert default.detail["torchvision_weights"] == "ResNet50_Weights.IMAGENET1K_V2"
    assert default.detail["torchvision_default"] == "ResNet50_Weights.IMAGENET1K_V2"
    assert "newer than ResNet50_Weights.IMAGENET1K_V1" in default.detail["note"]
    assert "--weights imagenet:IMAGENET1K_V1" in default.detail["note"]
    assert chapter.detail["torchvision_weights"] == "ResNet50_Weights.IMAGENET1K_V1"
    with pytest.raises(ValueError, match="has no version 'V9'; choose from IMAGENET1K_V1, IMAGENET1K_V2"):
        imagenet_weights(arch, "V9")


def test_imagenet_weights_offline_fail_at_once_naming_url_cache_and_alternatives(registry, torch_home, offline):
    t0 = time.perf_counter()
    with pytest.raises(OSError) as info:
        imagenet_weights(registry.arch("resnet34"))
    assert time.perf_counter() - t0 < 5
    msg = str(info.value)
    assert "https://download.pytorch.org/models/resnet34-b627a593.pth" in msg
    assert str(torch_home / "hub" / "checkpoints" / "resnet34-b627a593.pth") in msg
    assert "--weights PATH" in msg and "--weights none" in msg


def test_a_dataset_that_fights_back_trains_and_the_result_says_so(tmp_path, torch_home, registry, no_network_needed):
    """pets at smoke scale on a tree with every bad kind of file, --weights imagenet from the cache."""
    tree = pets_tree(tmp_path / "images")
    add_bad_files(tree)
    from torchvision.models import ResNet18_Weights

    weights = cache_path(ResNet18_Weights.IMAGENET1K_V1.url)
    weights.parent.mkdir(parents=True)
    torch.save(registry.arch("resnet18").build().state_dict(), weights)
    session = BenchSession(Options(workload="pets", scale="smoke", device="cpu", data_dir=tree, weights="imagenet",
                                   cache_dir=tmp_path / "cache", results_dir=tmp_path / "results"))
    with pytest.warns(UserWarning) as caught:
        result = session.prepare("baseline", 0).execute()
    assert any("Abyssinian_91.jpg: truncated" in str(w.message) for w in caught)
    assert result.ok, result.error
    validate(result.to_dict())
    assert sorted(result.skipped_files) == sorted(UNREADABLE) and sorted(result.converted_files) == sorted(ODD)
    assert result.n_train + result.n_valid == 2 * PER_CLASS + len(ODD) and result.n_classes == 2
    assert (result.weights.source, result.weights.arch) == ("imagenet", "resnet18")
    assert result.weights.detail["torchvision_weights"] == "ResNet18_Weights.IMAGENET1K_V1"
    assert result.weights.path == str(weights)


@pytest.mark.parametrize("weights, said", [("imagenet", "imagenet"), ("auto", r"auto \(here: imagenet\)")])
def test_session_turns_weight_failures_into_workload_errors(tmp_path, torch_home, offline, weights, said):
    tree = pets_tree(tmp_path / "images")
    session = BenchSession(Options(workload="pets", scale="smoke", device="cpu", data_dir=tree, weights=weights,
                                   cache_dir=tmp_path / "cache", results_dir=tmp_path / "results"))
    with pytest.raises(WorkloadError, match=rf"--weights {said} for resnet18: ResNet18_Weights.IMAGENET1K_V1 is not"):
        session.weights_for(session.arch_for(session.registry.recipe("baseline")))


def test_the_suite_offline_exits_cleanly_within_seconds(tmp_path):
    """`pytest recipes/ --workload pets` with no network and an empty fastai cache: a message, no traceback."""
    env = offline_env(tmp_path)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "recipes/", "-p", "no:cacheprovider", "--benchmark-only",
                           "--workload", "pets", "--scale", "smoke"],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=120)
    took = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out
    assert "Traceback" not in out and "recipebench: workload 'pets': the Pets images are not in fastai's cache" in out
    assert pets.PETS_URL in out and "--data-dir" in out
    assert took < 60, f"took {took:.0f} s"
