"""Real data, when ../shared (or $RECIPEBENCH_SHARED) has it: real Pets photos and real ImageNet weights.

A subset keeps it well under a minute on two CPU cores: the three breeds with 200 images each
(two cat breeds and a dog breed), 60 images of each, at the smoke scale (96 px, one frozen epoch then
one unfrozen). Chance is 2/3 wrong; with these weights it gets 0.14 (0.25 after the frozen epoch).
"""
from __future__ import annotations

import pytest

from recipebench.suite.options import Options
from recipebench.suite.session import BenchSession
from tests.conftest import SHARED

WEIGHTS_SHA256 = "d82c601c7c67a07fb0bc941eed2723afb3e6fe35d87ce04cc279c57e753eac1f"
BREEDS = ("Abyssinian", "Bengal", "american_bulldog")
PER_BREED = 60


@pytest.fixture(scope="module")
def shared_pets():
    images = SHARED / "pets" / "images"
    weights = SHARED / "weights" / "mobilenet_v2_imagenet_int8_bnfix.pth"
    if not (images.is_dir() and weights.is_file()):
        pytest.skip(f"no real Pets images and MobileNetV2 weights under {SHARED} (set RECIPEBENCH_SHARED to use them)")
    return images, weights


@pytest.fixture(scope="module")
def real_result(shared_pets, tmp_path_factory):
    images, weights = shared_pets
    subset = tmp_path_factory.mktemp("pets-subset")
    for breed in BREEDS:
        for path in sorted(images.glob(f"{breed}_*.jpg"))[:PER_BREED]:
            (subset / path.name).symlink_to(path)
    session = BenchSession(Options(workload="pets", scale="smoke", device="cpu", data_dir=subset, arch="mobilenet_v2",
                                   weights=str(weights), cache_dir=tmp_path_factory.mktemp("cache"),
                                   results_dir=tmp_path_factory.mktemp("results")))
    return session.prepare("baseline", 0).execute()


def test_real_pets_with_local_imagenet_weights_learn(real_result):
    r = real_result
    assert r.ok, r.error
    assert (r.n_classes, r.n_train + r.n_valid) == (len(BREEDS), len(BREEDS) * PER_BREED)
    assert r.skipped_files == () and r.converted_files == ()
    assert r.error_rate < 0.35, f"error_rate {r.error_rate:.3f}: chance is 0.67"


def test_the_weights_file_is_recorded(real_result, shared_pets):
    w = real_result.weights
    assert (w.source, w.arch, w.sha256) == ("file", "mobilenet_v2", WEIGHTS_SHA256)
    assert w.path == str(shared_pets[1].resolve())
