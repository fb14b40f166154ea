"""The embedded default workload: deterministic, Pets layout, varied sizes, disjoint source classes."""
from __future__ import annotations

import io
import re

import pytest

from recipebench.api import WorkloadRequest
from recipebench.data.datablock import PETS_LABEL_RE
from recipebench.plugins import synthetic
from recipebench.plugins.synthetic_images import (
    PAIR_HUE_GAP_DEG,
    PATTERNS,
    SHAPES,
    SOURCE_HUE_GAP_DEG,
    ImageSpec,
    _hue_gap,
    make_classes,
    render,
)


def _pairs(classes):
    """Neighbours of the same shape and pattern: the confusable pairs, which make_classes lists together."""
    return [(a, b) for a, b in zip(classes, classes[1:]) if (a.shape, a.pattern) == (b.shape, b.pattern)]


def _assert_disjoint(target, source):
    """Source and target classes never coincide: a shared shape and pattern is 60 degrees of hue away."""
    assert not {c.name for c in target} & {c.name for c in source}
    for s in source:
        for t in target:
            if (s.shape, s.pattern) == (t.shape, t.pattern):
                assert _hue_gap(s.hue_deg, t.hue_deg) >= SOURCE_HUE_GAP_DEG, (s, t)


def test_target_and_source_classes_are_disjoint_and_pairs_are_confusable():
    target, source = make_classes(12, 3, 24, seed=0)
    assert len(target) == 12 and len(source) == 24
    _assert_disjoint(target, source)
    # The first 3 pairs share shape and pattern and differ only in hue or pattern period.
    for a, b in zip(target[0:6:2], target[1:6:2]):
        assert (a.shape, a.pattern) == (b.shape, b.pattern)
        assert (a.hue_deg != b.hue_deg) != (a.period != b.period)


def test_source_shares_the_targets_vocabulary():
    """Every target class's shape and pattern is also a source class (at another hue), and the source
    uses every shape and every pattern: what pretraining learns is what the target is made of."""
    size = synthetic.SIZES["quick"]
    target, source = make_classes(size.classes, size.confusable_pairs, size.source_classes, 0,
                                  source_pairs=size.source_pairs)
    assert {(c.shape, c.pattern) for c in target} <= {(c.shape, c.pattern) for c in source}
    assert {c.shape for c in source} == set(SHAPES) and {c.pattern for c in source} == set(PATTERNS)
    _assert_disjoint(target, source)


def test_target_hues_are_spread_apart_except_the_designed_pairs():
    size = synthetic.SIZES["quick"]
    target, _ = make_classes(size.classes, size.confusable_pairs, size.source_classes, 0,
                             source_pairs=size.source_pairs)
    pairs = _pairs(target)
    assert len(pairs) == size.confusable_pairs
    for a, b in pairs:
        assert a.hue_deg == b.hue_deg or round(_hue_gap(a.hue_deg, b.hue_deg), 6) == PAIR_HUE_GAP_DEG
    gaps = [_hue_gap(a.hue_deg, b.hue_deg) for i, a in enumerate(target) for b in target[i + 1:]
            if (a.shape, a.pattern) != (b.shape, b.pattern)]
    # 12 classes, one hue pair: 11 slots of 33 degrees, each class within 5 degrees of its slot's centre.
    assert min(gaps) >= 20, "two target classes of different kinds are alike in hue by chance"


def test_source_has_hue_and_period_pairs():
    size = synthetic.SIZES["quick"]
    _, source = make_classes(size.classes, size.confusable_pairs, size.source_classes, 0,
                             source_pairs=size.source_pairs)
    assert len(source) == size.source_classes and size.source_pairs > 0
    pairs = _pairs(source)[:size.source_pairs]
    assert len(pairs) == size.source_pairs
    for a, b in pairs:
        assert (a.hue_deg != b.hue_deg) != (a.period != b.period)
    assert {a.hue_deg == b.hue_deg for a, b in pairs} == {True, False}, "both kinds of pair"


def test_many_classes_still_disjoint():
    target, source = make_classes(37, 6, 40, seed=0, source_pairs=8)
    assert len({c.name for c in target}) == 37 and len({c.name for c in source}) == 40
    _assert_disjoint(target, source)


def _jpeg(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def test_rendering_is_a_pure_function_of_its_arguments():
    target, _ = make_classes(4, 1, 2, seed=0)
    size = ImageSpec(60, 90)
    assert _jpeg(render(target[0], size, 0, 0, 5)) == _jpeg(render(target[0], size, 0, 0, 5))
    assert _jpeg(render(target[0], size, 0, 0, 5)) != _jpeg(render(target[0], size, 0, 0, 6))


def test_sizes_and_aspect_ratios_vary():
    target, _ = make_classes(4, 1, 2, seed=0)
    size = ImageSpec(60, 90, max_aspect=1.5)
    shapes = {render(target[1], size, 0, 1, i).size for i in range(20)}
    assert len(shapes) > 10
    assert any(w > h for w, h in shapes) and any(h > w for w, h in shapes)
    assert all(60 <= min(w, h) <= 90 and max(w, h) <= 1.5 * min(w, h) + 1 for w, h in shapes)


def test_bad_pair_count_is_refused():
    with pytest.raises(ValueError, match="confusable pairs"):
        make_classes(3, 2, 2, seed=0)
    with pytest.raises(ValueError, match="source pairs"):
        make_classes(4, 1, 3, seed=0, source_pairs=2)


@pytest.fixture(scope="module")
def smoke_data(cache_dir):
    return synthetic.prepare(WorkloadRequest(scale=synthetic.SCALES["smoke"], cache_dir=cache_dir))


def test_smoke_data_in_the_pets_layout(smoke_data):
    size = synthetic.SIZES["smoke"]
    files = sorted(smoke_data.images_dir.iterdir())
    assert smoke_data.images_dir.name == "images"
    assert len(files) == size.classes * size.per_class == smoke_data.n_files
    labels = {re.findall(PETS_LABEL_RE, f.name)[0] for f in files}
    assert len(labels) == size.classes
    assert all(f.suffix == ".jpg" for f in files)
    assert smoke_data.label_re == PETS_LABEL_RE
    assert smoke_data.default_weights == "synthetic-source"
    assert re.fullmatch("[0-9a-f]{64}", smoke_data.fingerprint)


def test_generated_once_then_reused(smoke_data, cache_dir):
    again = synthetic.prepare(WorkloadRequest(scale=synthetic.SCALES["smoke"], cache_dir=cache_dir))
    assert again.fingerprint == smoke_data.fingerprint
    stamps = {p.name: p.stat().st_mtime_ns for p in smoke_data.images_dir.iterdir()}
    assert stamps == {p.name: p.stat().st_mtime_ns for p in again.images_dir.iterdir()}


def test_generation_is_deterministic_across_caches(smoke_data, tmp_path):
    fresh = synthetic.prepare(WorkloadRequest(scale=synthetic.SCALES["smoke"], cache_dir=tmp_path))
    assert fresh.fingerprint == smoke_data.fingerprint
    for p in sorted(smoke_data.images_dir.iterdir())[:5]:
        assert (fresh.images_dir / p.name).read_bytes() == p.read_bytes()


def test_data_dir_is_refused_for_generated_data(tmp_path):
    with pytest.raises(ValueError, match="--data-dir"):
        synthetic.prepare(WorkloadRequest(scale=synthetic.SCALES["smoke"], cache_dir=tmp_path, data_dir=tmp_path))


def test_a_deeper_body_can_pretrain_fewer_epochs_and_the_cache_key_names_what_trained():
    settings = synthetic.SIZES["quick"].pretrain
    assert settings.for_arch("resnet18").epochs == settings.epochs == 8
    assert settings.for_arch("resnet50").epochs == 5
    key = settings.for_arch("resnet50").key()
    assert key["epochs"] == 5 and "arch_epochs" not in key
    assert settings.for_arch("resnet18").key() != key
