"""Your own images, as they come: class folders at any depth, the split you already have, classes too
small to train -- all found before training, on folders the tests generate."""
from __future__ import annotations

import json
import warnings

import pytest

from recipebench.data import datablock as data_mod
from recipebench.api import WorkloadRequest
from recipebench.data.checks import MIN_CLASS_IMAGES, DataError, DataWarning, checked_data, class_report
from recipebench.suite.options import Options
from recipebench.plugins import folder as folder_workload
from recipebench.plugins import pets
from recipebench.suite.session import BenchSession, WorkloadError
from recipebench.record.store import load_results
from tests.images import as_they_come, class_folders, encoded, picture, split_folders
from tests.test_bench import bench

SMOKE = pets.SCALES["smoke"]


def prepare(root, tmp_path, **kw):
    return folder_workload.prepare(WorkloadRequest(scale=SMOKE, cache_dir=tmp_path / "cache", data_dir=root, **kw))


def datasets(data):
    """The DataBlock's datasets for ``data``, as training would build them (no image is decoded)."""
    return data_mod.datablock(data, SMOKE).datasets(data.images_dir)


def under(items, root) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in items)


def labelled(dsets, root) -> dict[str, str]:
    """Each item of ``dsets`` (or of one of its splits), relative to ``root``, with the label fastai gave it."""
    return {p.relative_to(root).as_posix(): dsets.vocab[int(y)] for p, y in zip(dsets.items, dsets.tls[1])}


# -- 1. class folders at any depth ------------------------------------------------------------------


def test_the_class_is_the_top_level_folder_whatever_the_depth(tmp_path):
    root = as_they_come(tmp_path / "mine", per_class=12)
    data = prepare(root, tmp_path)
    assert dict(data.class_counts) == {"Cats": (10, 2), "Dogs": (10, 3)}
    assert "Dogs/extra/nested.jpg" in data.items and data.n_files == 25  # README.txt and .DS_Store are no images
    dsets = datasets(data)
    assert list(dsets.vocab) == ["Cats", "Dogs"]
    label = labelled(dsets, root)
    assert label["Dogs/extra/nested.jpg"] == "Dogs" and label["Cats/Cats 1.JPG"] == "Cats"
    assert "(classes: top-level folders): 25 images, 2 classes; split random(valid_pct=0.2, seed=42)" in \
        data.description


def test_labels_parent_is_fastais_parent_label_and_its_one_image_class_stops_the_run(tmp_path):
    """The issue's folder with --labels parent: 'extra' is a class of one image. Before, fastai raised
    KeyError half-way; now the check names it before anything trains."""
    root = as_they_come(tmp_path / "mine", per_class=12)
    with pytest.raises(DataError) as info:
        prepare(root, tmp_path, labels="parent")
    msg = str(info.value)
    assert "\n" not in msg
    assert "1 of 3 classes in" in msg and "'extra': 1 image (1 train, 0 valid)" in msg
    assert f"at least {MIN_CLASS_IMAGES} images" in msg and "--drop-small-classes" in msg
    with pytest.warns(DataWarning, match=r"left out 1 class\(es\) too small .*'extra': 1 image"):
        data = prepare(root, tmp_path, labels="parent", drop_small_classes=True)
    assert data.dropped_classes == ("extra",) and "Dogs/extra/nested.jpg" not in data.items
    assert data_mod.labeller(data).__name__ == "parent_label"
    assert list(datasets(data).vocab) == ["Cats", "Dogs"]


def test_the_class_report_counts_every_class(tmp_path):
    names = [f"class {c:02d}" for c in range(40)]
    root = split_folders(tmp_path / "many", {name: 4 + c for c, name in enumerate(names)}, dict.fromkeys(names, 1))
    data = prepare(root, tmp_path)
    report = class_report(data)
    assert report[0] == data.description and "40 classes" in report[0]
    assert report[1].split() == ["class", "00", "5", "(4", "train,", "1", "valid)"]  # the smallest first
    assert len(report) == 1 + 30 + 1 and report[-1] == "  ... and 10 more classes with 35-44 images each (395 in all)"
    assert class_report(data, limit=50)[-1].split()[:3] == ["class", "39", "44"]


# -- 2. the split you already have ------------------------------------------------------------------


@pytest.mark.parametrize("valid_name", ["valid", "val"])
def test_a_folder_split_into_train_and_valid_trains_on_exactly_that_split(tmp_path, valid_name):
    root = split_folders(tmp_path / "split", {"Cats": 9, "Dogs": 10}, {"Cats": 3, "Dogs": 2}, valid_name)
    (root / "train" / "Cats" / "more").mkdir()
    (root / "train" / "Cats" / "more" / "deep.png").write_bytes(encoded(picture(0, 50), "PNG"))
    class_folders(root / "test", {"Cats": 2, "Dogs": 2})  # held out: never read
    data = prepare(root, tmp_path)
    assert (data.split, str(data.folders)) == ("folders", f"folders(train=train, valid={valid_name})")
    assert dict(data.class_counts) == {"Cats": (10, 3), "Dogs": (10, 2)}
    dsets = datasets(data)
    given = [f"{valid_name}/{c}/{c} {i}{ext}" for c, n in (("Cats", 3), ("Dogs", 2))
             for i, ext in zip(range(n), (".jpg", ".JPG", ".jpeg"))]
    assert under(dsets.valid.items, root) == sorted(given)
    assert under(dsets.train.items, root) == sorted(n for n in data.items if n.startswith("train/"))
    assert len(dsets.train) == 20 and list(dsets.vocab) == ["Cats", "Dogs"]
    assert labelled(dsets, root)["train/Cats/more/deep.png"] == "Cats"
    assert data.description.endswith(f"split folders(train=train, valid={valid_name}): 20 train / 5 valid; "
                                     "not read: test/ (4 images)")


def test_split_random_pools_train_and_valid_and_leaves_test_out(tmp_path):
    root = split_folders(tmp_path / "split", {"Cats": 10, "Dogs": 10}, {"Cats": 3, "Dogs": 3})
    class_folders(root / "test", {"Cats": 2, "Dogs": 2})
    data = prepare(root, tmp_path, split="random")
    assert (data.split, data.folders.valid, data.n_files) == ("random", "valid", 26)
    assert data_mod.split_description(data_mod.training_split(data)) == "random(valid_pct=0.2, seed=42)"
    dsets = datasets(data)
    assert (len(dsets.train), len(dsets.valid)) == (21, 5) and list(dsets.vocab) == ["Cats", "Dogs"]
    assert not any(p.relative_to(root).parts[0] == "test" for p in dsets.items)


def test_which_folders_make_a_split(tmp_path):
    plain = class_folders(tmp_path / "plain", {"Cats": 10, "Dogs": 10})
    with pytest.raises(DataError, match=r"--split folders: .*plain has no train/ and valid/ or val/ folders "
                                        r"\(its top-level folders: Cats/, Dogs/\)"):
        prepare(plain, tmp_path, split="folders")
    vehicles = class_folders(tmp_path / "vehicles", {"bus": 10, "car": 10, "train": 10})  # a class called train
    assert list(prepare(vehicles, tmp_path).class_counts) == ["bus", "car", "train"]
    held = split_folders(tmp_path / "held", {"Cats": 10, "Dogs": 10}, {"Cats": 3, "Dogs": 3}, "test")
    with pytest.raises(DataError, match=r"comes split into test/, train/ but has no validation folder .*--split "
                                        r"folders:test to validate on test/, or --split random"):
        prepare(held, tmp_path)
    assert str(prepare(held, tmp_path, split="folders:test").folders) == "folders(train=train, valid=test)"
    random = prepare(held, tmp_path, split="random")
    assert (random.split, random.n_files) == ("random", 20) and "not read: test/ (6 images)" in random.description
    class_folders(held / "valid", {"Cats": 2, "Dogs": 2})
    class_folders(held / "val", {"Cats": 2, "Dogs": 2})
    with pytest.raises(DataError, match="both valid/ and val/ beside train/: pass --split folders:valid or"):
        prepare(held, tmp_path)


def test_a_split_folder_with_loose_images_names_them(tmp_path):
    root = split_folders(tmp_path / "split", {"Cats": 10, "Dogs": 10}, {"Cats": 3, "Dogs": 3})
    (root / "train" / "loose.jpg").write_bytes(encoded(picture(0, 1), "JPEG"))
    with pytest.raises(DataError, match=r"1 image\(s\) lie directly in .*split/train rather than in a class "
                                        r"sub-folder: train/loose.jpg"):
        prepare(root, tmp_path)


# -- 3. classes too small to train ------------------------------------------------------------------


def test_a_class_only_in_validation_stops_before_training_or_is_dropped_knowingly(tmp_path):
    root = split_folders(tmp_path / "split", {"Cats": 10, "Dogs": 10}, {"Cats": 3, "Dogs": 3, "Birds": 6})
    with pytest.raises(DataError, match=r"1 of 3 classes in .* too small to train under the split folders\(train="
                                        r"train, valid=valid\): 'Birds': 6 images \(0 train, 6 valid\)"):
        prepare(root, tmp_path)
    with pytest.warns(DataWarning, match="'Birds': 6 images"):
        data = prepare(root, tmp_path, drop_small_classes=True)
    assert data.dropped_classes == ("Birds",) and list(data.class_counts) == ["Cats", "Dogs"]
    assert not any("Birds" in n for n in data.items) and list(datasets(data).vocab) == ["Cats", "Dogs"]
    assert "1 class(es) too small left out (Birds)" in data.description


def test_a_class_with_too_few_images_or_no_validation_image_stops(tmp_path):
    root = class_folders(tmp_path / "mine", {"Cats": 12, "Dogs": 12, "Owls": 4})
    with pytest.raises(DataError, match=r"'Owls': 4 images \(\d train, \d valid\)"):
        checked_data(root, None, tmp_path / "cache", "mine")
    only_train = split_folders(tmp_path / "split", {"Cats": 10, "Dogs": 10, "Owls": 10}, {"Cats": 3, "Dogs": 3})
    with pytest.raises(DataError, match=r"1 of 3 classes in .* too small to train under the split folders\("
                                        r"train=train, valid=valid\): 'Owls': 10 images \(10 train, 0 valid\)\. "
                                        r"Each class needs .* one or more in validation"):
        checked_data(only_train, None, tmp_path / "cache", "split")
    with pytest.warns(DataWarning, match="'Owls': 10 images"):
        data = checked_data(only_train, None, tmp_path / "cache", "split", drop_small_classes=True)
    assert data.dropped_classes == ("Owls",)
    with pytest.warns(DataWarning), pytest.raises(DataError, match="only 1 class.* left after leaving out"):
        checked_data(class_folders(tmp_path / "two", {"Cats": 12, "Owls": 1}), None, tmp_path / "cache", "two",
                     drop_small_classes=True)


def test_a_published_split_keeps_a_class_with_no_validation_image_and_names_it(tmp_path):
    """The chapter's Pets split is the experiment: a sample of it that leaves a breed out of validation
    (the shared sample's British_Shorthair and saint_bernard) warns, and trains as the chapter would."""
    only_train = split_folders(tmp_path / "split", {"Cats": 10, "Dogs": 10, "Owls": 10}, {"Cats": 3, "Dogs": 3})
    with pytest.warns(DataWarning, match=r"1 of 3 classes in .* have no validation image under the split folders\("
                                         r"train=train, valid=valid\), so their errors are not measured: 'Owls': "
                                         r"10 images \(10 train, 0 valid\)"):
        data = checked_data(only_train, None, tmp_path / "cache", "split", need_validation=False)
    assert data.class_counts["Owls"] == (10, 0) and data.dropped_classes == ()


def test_the_check_computes_the_split_fastai_will_draw(tmp_path):
    """The counts come from the same RandomSplitter over the same items, and leave torch's random state alone."""
    import torch

    root = class_folders(tmp_path / "mine", {"a": 11, "b": 13, "c": 17})
    torch.manual_seed(7)
    before = torch.get_rng_state()
    data = prepare(root, tmp_path)
    assert torch.equal(torch.get_rng_state(), before)
    dsets = datasets(data)
    train, valid = labelled(dsets.train, root).values(), labelled(dsets.valid, root).values()
    assert {c: (list(train).count(c), list(valid).count(c)) for c in dsets.vocab} == dict(data.class_counts)


# -- the session and the suite ----------------------------------------------------------------------


def session(root, tmp_path, said=None, **kw) -> BenchSession:
    return BenchSession(Options(workload="folder", scale="smoke", device="cpu", data_dir=root, weights="none",
                                cache_dir=tmp_path / "cache", results_dir=tmp_path / "results", **kw),
                        say=None if said is None else said.append)


def test_a_train_valid_folder_trains_on_its_split_and_the_result_says_so(tmp_path):
    root = split_folders(tmp_path / "split", {"Cats": 20, "Dogs": 20}, {"Cats": 4, "Dogs": 3})
    said: list[str] = []
    result = session(root, tmp_path, said).prepare("baseline", 0).execute()
    assert result.ok, result.error
    assert (result.n_train, result.n_valid, result.n_classes) == (40, 7, 2)
    assert result.config.split == "folders(train=train, valid=valid)"
    assert (result.config.valid_pct, result.config.split_seed, result.dropped_classes) == (None, None, ())
    assert said[0].endswith("split folders(train=train, valid=valid): 40 train / 7 valid")
    assert said[1:] == ["  Dogs      23 (20 train, 3 valid)", "  Cats      24 (20 train, 4 valid)"]
    from recipebench.render import session_table as render

    assert "(2 classes, 40 train / 7 valid images, split folders(train=train, valid=valid))" in \
        render.session_report([result])


def test_the_session_stops_on_small_classes_with_a_workload_error(tmp_path):
    root = class_folders(tmp_path / "mine", {"Cats": 12, "Dogs": 12, "Owls": 1})
    with pytest.raises(WorkloadError, match="workload 'folder': 1 of 3 classes .* 'Owls': 1 image"):
        session(root, tmp_path).data()
    with pytest.raises(WorkloadError, match="--labels parent: pets labels by file name"):
        BenchSession(Options(workload="pets", labels="parent", data_dir=root, cache_dir=tmp_path)).data()


def test_the_smoke_suite_on_the_issues_folder(tmp_path, cache_dir):
    """`pytest recipes/ --workload folder` on a folder as it comes: the top-level classes, reported first."""
    root = as_they_come(tmp_path / "mine", per_class=20)
    out = tmp_path / "results"
    proc = bench(["--benchmark-only", "--workload", "folder", "--data-dir", str(root), "--scale", "smoke",
                  "--recipe", "baseline", "--weights", "none", "--results-dir", str(out)], cache_dir)
    assert "(classes: top-level folders): 41 images, 2 classes; split random(valid_pct=0.2, seed=42)" in proc.stdout
    assert "recipebench:   Cats      20 (" in proc.stdout and "recipebench:   Dogs      21 (" in proc.stdout
    (result,) = load_results([out])
    assert result.ok and result.n_classes == 2 and result.n_train + result.n_valid == 41
    assert json.loads(next(out.rglob("baseline-seed0.json")).read_text())["config"]["split"] == \
        "random(valid_pct=0.2, seed=42)"
    (root / "Owls").mkdir()
    (root / "Owls" / "owl.jpg").write_bytes(encoded(picture(2, 1), "JPEG"))
    stopped = bench(["--benchmark-only", "--workload", "folder", "--data-dir", str(root), "--scale", "smoke",
                     "--weights", "none", "--results-dir", str(out)], cache_dir, check=False)
    said = stopped.stdout + stopped.stderr
    assert stopped.returncode == 4, said
    assert "Traceback" not in said and "KeyError" not in said
    (line,) = [x for x in said.splitlines() if "too small to train" in x]
    assert "recipebench: workload 'folder': 1 of 3 classes in" in line and "'Owls': 1 image (" in line
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(load_results([out])) == 1  # nothing trained the second time
