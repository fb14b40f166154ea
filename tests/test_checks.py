"""Datasets that fight back: unreadable files left out, odd ones converted, bad names and folders refused."""
from __future__ import annotations

import warnings

import pytest
from PIL import Image

from recipebench.data import checks
from recipebench.api import WorkloadRequest
from recipebench.data.checks import DataError, DataWarning, checked_data
from recipebench.data.datablock import PETS_LABEL_RE, image_files
from recipebench.plugins import folder as folder_workload
from recipebench.plugins import pets
from tests.images import (
    ODD,
    PER_CLASS,
    UNREADABLE,
    add_bad_files,
    class_folders,
    pets_tree,
    picture,
    snapshot,
)


@pytest.fixture
def bad_tree(tmp_path):
    """2 x PER_CLASS good Pets-layout JPEGs in 2 classes, plus every unreadable and odd kind of file."""
    tree = pets_tree(tmp_path / "images")
    add_bad_files(tree)
    return tree


def check(tree, cache, label_re=PETS_LABEL_RE):
    with pytest.warns(DataWarning) as caught:
        data = checked_data(tree, label_re, cache, "test tree")
    return data, " ".join(str(w.message) for w in caught)


def test_unreadable_files_are_left_out_with_a_warning_naming_them(bad_tree, tmp_path):
    data, warned = check(bad_tree, tmp_path / "cache")
    assert set(data.skipped_files) == set(UNREADABLE)
    assert "Abyssinian_90.jpg: empty (0 bytes)" in warned
    assert "Abyssinian_91.jpg: truncated" in warned
    assert "Bengal_90.jpg: not an image" in warned
    assert data.n_files == 2 * PER_CLASS + len(ODD)
    fastai_sees = {p.name for p in image_files(data.images_dir, data.skipped_files)}
    assert fastai_sees == {p.name for p in bad_tree.iterdir()} - set(UNREADABLE)


def test_odd_files_are_converted_in_the_cache_and_kept(bad_tree, tmp_path):
    before = snapshot(bad_tree)
    data, _ = check(bad_tree, tmp_path / "cache")
    assert snapshot(bad_tree) == before, "the user's folder must never be written to"
    assert set(data.converted_files) == set(ODD)
    assert data.images_dir != bad_tree and tmp_path / "cache" in data.images_dir.parents
    for name in ODD:
        with Image.open(data.images_dir / name) as im:
            assert (im.format, im.mode) == ("JPEG", "RGB"), name
    with Image.open(data.images_dir / "Bengal_93.jpg") as im:  # RGBA: transparent corner composited on white
        assert all(c > 240 for c in im.getpixel((2, 2)))
    good = data.images_dir / "Bengal_4.jpg"
    assert good.is_symlink() and good.resolve() == (bad_tree / "Bengal_4.jpg").resolve()
    assert "2 classes, 3 unreadable left out, 5 converted to RGB" in data.description


def test_the_scan_is_cached_until_a_file_changes(bad_tree, tmp_path, monkeypatch):
    first, _ = check(bad_tree, tmp_path / "cache")
    seen = []
    inspect = checks.inspect_image
    monkeypatch.setattr(checks, "inspect_image", lambda p: seen.append(p.name) or inspect(p))
    again, _ = check(bad_tree, tmp_path / "cache")
    assert seen == [] and again == first
    (bad_tree / "Bengal_90.jpg").write_bytes(picture(1, 90).tobytes())  # still not an image, but changed
    check(bad_tree, tmp_path / "cache")
    assert len(seen) == 2 * PER_CLASS + len(ODD) + len(UNREADABLE)


def test_a_clean_folder_is_used_as_it_is(tmp_path):
    tree = pets_tree(tmp_path / "images")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = checked_data(tree, PETS_LABEL_RE, tmp_path / "cache", "clean")
    assert data.images_dir == tree and data.skipped_files == () and data.converted_files == ()


def test_names_the_labeller_cannot_parse_stop_the_run_before_any_decoding(bad_tree, tmp_path, monkeypatch):
    for name in ("Abyssinian.jpg", "IMG_0001.JPG", "notes-final.jpg"):
        (bad_tree / name).write_bytes(b"")
    monkeypatch.setattr(checks, "inspect_image", lambda p: pytest.fail("decoded before checking names"))
    with pytest.raises(DataError) as info:
        checked_data(bad_tree, PETS_LABEL_RE, tmp_path / "cache", "x")
    msg = str(info.value)
    assert f"cannot parse 3 of {2 * PER_CLASS + 11} file name(s)" in msg
    assert repr(PETS_LABEL_RE) in msg and "--label-re" in msg
    assert "Abyssinian.jpg" in msg and "IMG_0001.JPG" in msg and "notes-final.jpg" in msg


def test_a_pets_root_instead_of_its_images_folder_gets_a_hint(tmp_path):
    root = tmp_path / "oxford-iiit-pet"
    pets_tree(root / "images")
    (root / "annotations" / "trimaps").mkdir(parents=True)
    picture(0, 1).save(root / "annotations" / "trimaps" / "Abyssinian_1.png")  # Pets' segmentation masks
    with pytest.raises(DataError, match=r"annotations/trimaps/Abyssinian_1.png.*did you mean --data-dir .*images\?"):
        checked_data(root, PETS_LABEL_RE, tmp_path / "cache", "x")


def test_an_empty_folder_a_single_class_and_nothing_readable_are_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"no image files .* in .*empty"):
        checked_data(tmp_path / "empty", PETS_LABEL_RE, tmp_path / "cache", "x")
    one = pets_tree(tmp_path / "one", classes=("Bengal",))
    with pytest.raises(DataError, match="same label 'Bengal'.*at least two classes"):
        checked_data(one, PETS_LABEL_RE, tmp_path / "cache", "x")
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("Bengal_1.jpg", "Sphynx_1.jpg"):
        (broken / name).write_bytes(b"")
    with pytest.warns(DataWarning), pytest.raises(DataError, match="none of the 2 image files .* can be read"):
        checked_data(broken, PETS_LABEL_RE, tmp_path / "cache", "x")


def test_folder_workload_labels_by_class_folder_or_regex(tmp_path):
    root = class_folders(tmp_path / "mine", {"cats": PER_CLASS, "dogs": PER_CLASS})
    request = WorkloadRequest(scale=pets.SCALES["smoke"], cache_dir=tmp_path / "cache", data_dir=root)
    data = folder_workload.prepare(request)
    assert data.label_re is None and data.n_files == 2 * PER_CLASS and data.default_weights == "imagenet"
    assert (data.label_folder, data.split, data.folders) == ("top", "random", None)
    picture(0, 9).save(root / "stray.jpg")
    with pytest.raises(DataError, match=r"lie directly in .*mine rather than in a class sub-folder: stray.jpg.*"
                                        r"--label-re"):
        folder_workload.prepare(request)
    (root / "stray.jpg").unlink()
    by_name = WorkloadRequest(scale=pets.SCALES["smoke"], cache_dir=tmp_path / "cache", data_dir=root,
                              label_re=r"^([a-z]+) \d+")
    assert folder_workload.prepare(by_name).label_re == r"^([a-z]+) \d+"
    with pytest.raises(ValueError, match="--data-dir"):
        folder_workload.prepare(WorkloadRequest(scale=pets.SCALES["smoke"], cache_dir=tmp_path))
