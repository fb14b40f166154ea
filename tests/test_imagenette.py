"""The imagenette workload and the xresnets trained from scratch: fastai's cache first, a clear error at
once offline, the real loading code on a made-up tree in Imagenette's layout, no network in tests."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from recipebench.api import FolderSplit, Recipe, WorkloadRequest
from recipebench.suite.options import Options, UsageError
from recipebench.plugins import imagenette
from recipebench.record.results import validate
from recipebench.suite.session import BenchSession
from tests.conftest import REPO, offline_env
from tests.images import encoded, picture
from tests.test_pets import no_network_needed, offline, torch_home  # noqa: F401  (fixtures)

SYNSETS = ("n01440764", "n02102040")
TRAIN, VAL = 8, 3  # images per class in train/ and val/
#: Training images per class where a test trains: one batch of the smoke scale's 32 (fastai drops the last
#: incomplete training batch, so fewer would train on nothing).
TRAINED = 17


def imagenette_tree(root: Path, synsets=SYNSETS, train: int = TRAIN, val: int = VAL) -> Path:
    """``root/train/<synset>/<synset>_<n>.JPEG`` and ``root/val/...``, as the extracted archive has them."""
    for split, n in (("train", train), ("val", val)):
        for c, synset in enumerate(synsets):
            (root / split / synset).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                (root / split / synset / f"{synset}_{1000 * (split == 'val') + i}.JPEG").write_bytes(
                    encoded(picture(c, i), "JPEG"))
    return root


def request(tmp_path, scale="smoke", **kw) -> WorkloadRequest:
    return WorkloadRequest(scale=imagenette.SCALES[scale], cache_dir=tmp_path / "cache", **kw)


def test_the_urls_are_fastais():
    from fastai.data.external import URLs

    assert (imagenette.IMAGENETTE_URL, imagenette.IMAGENETTE_160_URL, imagenette.IMAGENETTE_320_URL) == (
        URLs.IMAGENETTE, URLs.IMAGENETTE_160, URLs.IMAGENETTE_320)
    assert imagenette.URLS["full"] == URLs.IMAGENETTE and imagenette.URLS["smoke"] == URLs.IMAGENETTE_160


def test_full_scale_is_the_chapters(registry):
    full = registry.workload("imagenette").scales["full"]
    assert (full.presize, full.image_size, full.batch_size, full.arch) == (460, 224, 64, "xresnet50")
    assert full.max_epochs_per_fit is None and full.lr_find_num_it is None


@pytest.mark.parametrize("scale, folder", [("smoke", "imagenette2-160"), ("full", "imagenette2")])
def test_offline_with_nothing_cached_fails_at_once_saying_what_to_do(tmp_path, monkeypatch, scale, folder,
                                                                     offline):  # noqa: F811
    monkeypatch.setenv("FASTAI_HOME", str(tmp_path / "fastai-home"))
    t0 = time.perf_counter()
    with pytest.raises(OSError) as info:
        imagenette.prepare(request(tmp_path, scale))
    assert time.perf_counter() - t0 < 5
    msg = str(info.value)
    assert imagenette.URLS[scale] in msg and "--data-dir" in msg and "Name or service not known" in msg
    assert msg.startswith("the Imagenette images are not in fastai's cache")
    assert str(tmp_path / "fastai-home" / "data" / folder) in msg


def test_imagenette_in_fastais_cache_is_used_without_network_with_its_own_split(tmp_path, monkeypatch,
                                                                                no_network_needed):  # noqa: F811
    home = tmp_path / "fastai-home"
    imagenette_tree(home / "data" / "imagenette2-160")
    monkeypatch.setenv("FASTAI_HOME", str(home))
    data = imagenette.prepare(request(tmp_path))
    assert data.images_dir == home / "data" / "imagenette2-160"
    assert (data.split, data.folders, data.label_folder) == ("folders", FolderSplit("train", "val"), "parent")
    assert dict(data.class_counts) == {s: (TRAIN, VAL) for s in SYNSETS}
    assert data.default_weights == "none"
    assert "untar_data(URLs.IMAGENETTE_160)" in data.description
    assert "n01440764 tench, n02102040 English springer" in data.description


def test_data_dir_and_the_chapters_random_split(tmp_path, no_network_needed):  # noqa: F811
    tree = imagenette_tree(tmp_path / "imagenette2-320")
    for split in ("auto", "folders:val"):
        got = imagenette.prepare(request(tmp_path, data_dir=tree, split=split))
        assert (got.split, got.folders) == ("folders", FolderSplit("train", "val"))
    got = imagenette.prepare(request(tmp_path, data_dir=tree, split="random"))
    assert got.split == "random" and sum(t + v for t, v in got.class_counts.values()) == 2 * (TRAIN + VAL)


def test_xresnets_are_fastais_model_cut_and_split(registry):
    from fastai.vision.learner import model_meta
    from fastai.vision.models import xresnet

    for name in ("xresnet18", "xresnet50"):
        arch, meta = registry.arch(name), model_meta[getattr(xresnet, name)]
        assert isinstance(arch.build(), xresnet.XResNet) and arch.cut == meta["cut"] == -4
        assert arch.imagenet_weights is None
    model = registry.arch("xresnet18").build()
    import torch.nn as nn

    net = nn.Sequential(nn.Sequential(*list(model.children())[:-4]), nn.Linear(512, 2))
    groups = registry.arch("xresnet18").split(net)
    assert [len(g) for g in groups] == [len(list(g)) for g in model_meta[xresnet.xresnet18]["split"](net)]
    assert len(groups) == 3


def test_imagenette_trains_from_scratch_on_a_made_up_tree(tmp_path, no_network_needed):  # noqa: F811
    """The workload at smoke scale, its defaults: xresnet18, no weights, train/ + val/."""
    tree = imagenette_tree(tmp_path / "imagenette2-160", train=TRAINED)
    session = BenchSession(Options(workload="imagenette", scale="smoke", device="cpu", data_dir=tree,
                                   cache_dir=tmp_path / "cache", results_dir=tmp_path / "results"))
    session.check_setup(["baseline"], warm_up_here=False)
    result = session.prepare("baseline", 0).execute()
    assert result.ok, result.error
    validate(result.to_dict())
    assert (result.weights.source, result.weights.arch, result.config.arch) == ("none", "xresnet18", "xresnet18")
    assert (result.n_train, result.n_valid, result.n_classes) == (2 * TRAINED, 2 * VAL, 2)
    assert "val" in result.config.split and sum(e.train_samples for e in result.epochs) > 0


def test_xresnet18_from_scratch_on_synthetic(smoke_session, cache_dir, tmp_path):
    session = BenchSession(Options(scale="smoke", device="cpu", arch="xresnet18", weights="none",
                                   cache_dir=cache_dir, results_dir=tmp_path / "results"))
    result = session.prepare("baseline", 0).execute()
    assert result.ok, result.error
    assert (result.weights.source, result.weights.path, result.config.arch) == ("none", None, "xresnet18")
    assert sum(e.train_samples for e in result.epochs) > 0


def test_a_recipe_that_trains_from_scratch_ignores_weights_and_says_so(tmp_path, torch_home, offline):  # noqa: F811
    """--weights imagenet with nothing cached and no network: the scratch recipe needs no weights, so the
    setup neither fetches nor fails, and its result says none."""
    tree = imagenette_tree(tmp_path / "imagenette2-160", train=TRAINED)
    session = BenchSession(Options(workload="imagenette", scale="smoke", device="cpu", data_dir=tree,
                                   weights="imagenet", arch="resnet18", recipes=("xresnet_from_scratch",),
                                   cache_dir=tmp_path / "cache", results_dir=tmp_path / "results"))
    session.check_setup(["xresnet_from_scratch"], warm_up_here=False)
    plan = session.plan("xresnet_from_scratch", 0)
    assert plan.weights is None and plan.arch.name == "resnet18"
    result = session.prepare("xresnet_from_scratch", 0).execute()
    assert result.ok, result.error
    assert (result.weights.source, result.weights.sha256) == ("none", None)
    assert [(c.method, tuple(c.args)) for c in result.calls] == [("fit_one_cycle", (1, 3e-3))]  # smoke: 1 epoch


def test_recipe_weights_and_suite_are_checked():
    with pytest.raises(ValueError, match="weights must be 'session' or 'none'"):
        Recipe("r", lambda ctx: None, "s", weights="imagenet")
    with pytest.raises(ValueError, match="suite must be an identifier other than 'all'"):
        Recipe("r", lambda ctx: None, "s", suite="all")


def test_the_default_suite_stays_the_chapters_and_the_next_is_asked_for(registry, tmp_path):
    def names(**kw):
        return {r.name for r in BenchSession(Options(device="cpu", results_dir=tmp_path, **kw), registry).recipes}

    chapter = {n for n, r in registry.recipes.items() if r.item.suite == "chapter"}
    assert names() == chapter and "xresnet_from_scratch" not in chapter and len(chapter) == 7
    assert "xresnet_from_scratch" in names(suite="next_chapter") and not chapter & names(suite="next_chapter")
    assert names(suite="all") == set(registry.recipes)
    assert names(recipes=("xresnet_from_scratch",)) == {"xresnet_from_scratch"}
    with pytest.raises(UsageError, match="--suite nope: no recipe is in that suite"):
        names(suite="nope")


def test_the_suite_offline_exits_cleanly_within_seconds(tmp_path):
    """`pytest recipes/ --workload imagenette` with no network and an empty fastai cache: one line, exit 4."""
    env = offline_env(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "pytest", "recipes/", "-p", "no:cacheprovider", "--benchmark-only",
                           "--workload", "imagenette", "--scale", "smoke"],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out
    assert "Traceback" not in out
    assert "recipebench: workload 'imagenette': the Imagenette images are not in fastai's cache" in out
    assert imagenette.IMAGENETTE_160_URL in out and "--data-dir" in out


def test_imagenet_weights_for_an_xresnet_say_there_are_none(tmp_path, no_network_needed):  # noqa: F811
    from recipebench.suite.session import WorkloadError

    tree = imagenette_tree(tmp_path / "imagenette2-160")
    session = BenchSession(Options(workload="imagenette", scale="smoke", device="cpu", data_dir=tree,
                                   weights="imagenet", cache_dir=tmp_path / "cache", results_dir=tmp_path / "results"))
    with pytest.raises(WorkloadError, match="--weights imagenet for xresnet18: torchvision has no ImageNet weights "
                                            "for arch 'xresnet18'; pass --weights PATH .*, or --weights none"):
        session.weights_for(session.registry.arch("xresnet18"))
