"""Faults that real folders and CI bring (issue 20, item 9): a damaged cached or given weights file, a broken
plugin file, a result from a newer recipebench, a decompression bomb in a folder, class names that are not ASCII.
Each is a one-line message naming the file, or is handled, never a traceback."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from PIL import Image

from recipebench.data.checks import DataWarning, checked_data, class_report
from recipebench.record.atomic import sha256_file
from recipebench.train.learner import WeightsError, read_state_dict
from recipebench.suite.options import Options
from recipebench.suite.session import BenchSession
from tests.conftest import REPO, subprocess_env
from tests.images import class_folders, huge_png
from tests.test_bench import bench

NEWER = "written by a newer recipebench (schema {} > {}): upgrade recipebench to read it"


def smoke(cache, results, **kw) -> BenchSession:
    return BenchSession(Options(scale="smoke", device="cpu", cache_dir=cache, results_dir=results, **kw))


# -- a. damaged weights ------------------------------------------------------------------------------


def test_a_damaged_cached_pretrained_body_is_rebuilt_with_a_note_naming_it(tmp_path):
    session = smoke(tmp_path / "cache", tmp_path / "results")
    arch = session.arch_for(session.registry.recipe("baseline"))
    made = session.weights_for(arch)
    good = made.path.read_bytes()
    for damage in ("truncate", "flip", "meta", "unrecorded"):
        if damage == "truncate":
            made.path.write_bytes(good[: len(good) // 2])
        elif damage == "unrecorded":  # an entry made before the sha256 was recorded: it must load
            meta = json.loads(made.path.with_suffix(".json").read_text())
            del meta["sha256"]
            made.path.with_suffix(".json").write_text(json.dumps(meta))
            made.path.write_bytes(good[: len(good) // 2])
        elif damage == "flip":  # same size, still a zip: only the recorded checksum tells
            mid = len(good) // 2
            made.path.write_bytes(good[:mid] + bytes(b ^ 0xFF for b in good[mid:mid + 100]) + good[mid + 100:])
        else:
            made.path.with_suffix(".json").write_text('{"what": "cut sho')
        with pytest.warns(UserWarning, match=re.escape(str(made.path if damage != "meta" else
                                                           made.path.with_suffix(".json"))) + r".*\brebuilt\b"):
            again = smoke(tmp_path / "cache", tmp_path / "results").weights_for(arch)
        assert again.path == made.path, damage
        assert read_state_dict(again.path) and again.sha256 == sha256_file(again.path), damage
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a sound entry is used as it is, with no note
        assert smoke(tmp_path / "cache", tmp_path / "results").weights_for(arch).sha256 == again.sha256


@pytest.mark.parametrize("make, says", [
    (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    (lambda p: _cut_in_half(p), "is truncated or corrupt"),
    (lambda p: _cut_in_half(p, legacy=True), "is truncated or corrupt"),
    (lambda p: p.write_bytes(b"<html>404 Not Found</html>"), "is not a file torch.save wrote"),
    (lambda p: _pickled_object(p), "holds objects other than tensors"),
])
def test_a_damaged_weights_file_of_the_user_is_named_in_one_line(tmp_path, make, says):
    path = tmp_path / "mine.pth"
    make(path)
    with pytest.raises(WeightsError) as info:
        read_state_dict(path)
    message = str(info.value)
    assert str(path) in message and says in message
    assert "\n" not in message and "\x1b" not in message and len(message) < 400, message


class Unsafe:  # not a tensor: torch.load(weights_only=True) refuses it
    pass


def _cut_in_half(path: Path, legacy: bool = False) -> None:
    import torch

    torch.save({"conv1.weight": torch.zeros(1000)}, path, _use_new_zipfile_serialization=not legacy)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])


def _pickled_object(path: Path) -> None:
    import torch

    torch.save({"conv1.weight": Unsafe()}, path)


def test_a_truncated_weights_file_given_to_the_suite_stops_it_with_one_line(tmp_path, cache_dir):
    path = tmp_path / "mine.pth"
    path.write_bytes(b"PK\x03\x04" + bytes(200))  # the start of a zip, cut off
    proc = bench(["--benchmark-only", "--scale", "smoke", "--recipe", "baseline", "--weights", str(path),
                  "--results-dir", str(tmp_path / "results")], cache_dir, check=False)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 4, said
    assert "Traceback" not in said
    (line,) = [x for x in said.splitlines() if str(path) in x]
    assert "is truncated or corrupt" in line


def test_a_damaged_imagenet_file_in_torchs_cache_is_named_or_downloaded_again(tmp_path, monkeypatch, registry):
    import torch

    from recipebench.data import fetch
    from recipebench.train import weights as weights_mod

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    arch = registry.arch("resnet18")
    from torchvision.models import get_model_weights

    path = weights_mod.cache_path(get_model_weights("resnet18")[arch.imagenet_weights or "DEFAULT"].url)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    monkeypatch.setattr(fetch, "probe", lambda url: "no network (test)")
    with pytest.raises(OSError) as info:
        weights_mod.imagenet_weights(arch)
    assert str(path) in str(info.value) and "damaged" in str(info.value) and "\n" not in str(info.value)
    monkeypatch.setattr(fetch, "probe", lambda url: None)
    monkeypatch.setattr(fetch, "download_file", lambda url, dest, sha256_prefix=None: torch.save(
        arch.build().state_dict(), dest))
    with pytest.warns(UserWarning) as caught:  # and, the fake download not being the published file, that too
        got = weights_mod.imagenet_weights(arch)
    assert any(re.search(re.escape(str(path)) + ".*damaged.*downloading it again", str(w.message)) for w in caught)
    assert got.path == path and read_state_dict(path)


# -- b. plugin files ---------------------------------------------------------------------------------


def run_suite(args, cache_dir):
    proc = subprocess.run([sys.executable, "-m", "pytest", "recipes/", "-p", "no:cacheprovider", "--collect-only",
                           "-q", *args], cwd=REPO, capture_output=True, text=True, env=subprocess_env(cache_dir),
                          timeout=300)
    return proc, proc.stdout + proc.stderr


def test_a_plugin_file_with_a_syntax_error_is_named_with_its_line(tmp_path, cache_dir):
    bad = tmp_path / "broken.py"
    bad.write_text("from recipebench import hookimpl\n\n\ndef oops(:\n    pass\n")
    proc, said = run_suite(["--plugins-dir", str(tmp_path)], cache_dir)
    assert proc.returncode == 4, said
    assert "Traceback" not in said
    (line,) = [x for x in said.splitlines() if "broken.py" in x]
    assert f"{bad}:4: SyntaxError" in line


def test_a_plugin_file_that_fails_as_it_runs_is_named_with_its_line(tmp_path):
    from recipebench.registry import PluginError, load_registry

    bad = tmp_path / "typo.py"
    bad.write_text("from recipebench import hookimpl\n\nREGISTER = hookimp\n")
    with pytest.raises(PluginError) as info:
        load_registry(tmp_path)
    assert f"{bad}:3: NameError" in str(info.value)


def test_a_plugin_file_registering_a_builtin_name_is_named_in_one_line(tmp_path, cache_dir):
    dup = tmp_path / "mine.py"
    dup.write_text("from recipebench import Recipe, hookimpl\n\n\n@hookimpl\ndef recipebench_add_recipes(register):\n"
                   "    register(Recipe('baseline', lambda ctx: None, summary='mine'))\n")
    proc, said = run_suite(["--plugins-dir", str(tmp_path)], cache_dir)
    assert proc.returncode == 4, said
    assert "Traceback" not in said
    (line,) = [x for x in said.splitlines() if "registered twice" in x]
    assert "'baseline'" in line and "built-in" in line and str(dup) in line


# -- c. a result from a newer recipebench ------------------------------------------------------------


def newer_result(folder: Path, baseline_result) -> Path:
    from recipebench.record.results import SCHEMA_VERSION

    doc = baseline_result.to_dict()
    doc.update(schema_version=SCHEMA_VERSION + 1, a_field_of_the_future=1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "baseline-seed0.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("command", [["table"], ["compare"], ["report"]])
def test_a_result_of_a_newer_schema_is_named_with_what_to_do(tmp_path, baseline_result, command):
    from recipebench.record.results import SCHEMA_VERSION

    path = newer_result(tmp_path / "new", baseline_result)
    args = [str(path.parent)] * (2 if command != ["table"] else 1)
    if command == ["report"]:
        args += ["--out", str(tmp_path / "report")]
    proc = subprocess.run([sys.executable, "-m", "recipebench", *command, *args], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert str(path) in line and NEWER.format(SCHEMA_VERSION + 1, SCHEMA_VERSION) in line
    assert "not a valid" not in line


def test_resume_names_a_result_of_a_newer_schema_and_trains_that_case_anew(tmp_path, cache_dir, baseline_result):
    from recipebench.record.results import SCHEMA_VERSION

    path = newer_result(tmp_path / "results" / "20991231T000000Z-synthetic-smoke-cpu", baseline_result)
    said: list[str] = []
    session = BenchSession(Options(scale="smoke", device="cpu", cache_dir=cache_dir,
                                   results_dir=tmp_path / "results", recipes=["baseline"], seeds=[0]),
                           say=said.append)
    session.check_setup(["baseline"], warm_up_here=False)
    assert session.resume([("baseline", 0)]) == {}
    (line,) = [x for x in said if str(path) in x]
    assert NEWER.format(SCHEMA_VERSION + 1, SCHEMA_VERSION) in line and "--resume" in line


# -- d. decompression bombs --------------------------------------------------------------------------


def test_an_image_past_pillows_decompression_bomb_limit_is_named_and_left_out(tmp_path):
    limit = Image.MAX_IMAGE_PIXELS
    root = class_folders(tmp_path / "mine", {"Cats": 12, "Dogs": 12})
    warned = math.isqrt(int(limit * 1.2)) + 1  # past the limit: Pillow warns (DecompressionBombWarning)
    refused = math.isqrt(int(limit * 2.5)) + 1  # past twice the limit: Pillow raises (DecompressionBombError)
    (root / "Cats" / "huge.png").write_bytes(huge_png(warned, warned))
    (root / "Dogs" / "bomb.png").write_bytes(huge_png(refused, refused))
    assert (root / "Dogs" / "bomb.png").stat().st_size < 200_000
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = checked_data(root, None, tmp_path / "cache", "test folder")
    assert set(data.skipped_files) == {"Cats/huge.png", "Dogs/bomb.png"}
    assert data.n_files == 24
    kinds = {type(w.message) for w in caught}
    assert Image.DecompressionBombWarning not in kinds  # named once, by the check, not by Pillow
    (note,) = [str(w.message) for w in caught if isinstance(w.message, DataWarning)]
    for name, side in (("Cats/huge.png", warned), ("Dogs/bomb.png", refused)):
        assert f"{name}: past Pillow's decompression-bomb limit ({side * side:,} pixels > " in note


# -- e. class names that are not ASCII ---------------------------------------------------------------

CLASSES = {"Šiba inu": 12, "chat noir": 12, "猫": 12}


def test_the_class_report_lines_up_names_of_any_script(tmp_path):
    data = checked_data(class_folders(tmp_path / "mine", CLASSES), None, tmp_path / "cache", "test folder")
    from rich.cells import cell_len

    lines = class_report(data)[1:]
    assert sorted(line.split("  ")[1].strip() for line in lines) == sorted(CLASSES)
    assert len({cell_len(line[: line.index("(")]) for line in lines}) == 1, lines  # the counts in one column


def test_class_folders_with_spaces_and_other_scripts_train_and_are_shown_as_they_are(tmp_path, cache_dir):
    root = class_folders(tmp_path / "mine", CLASSES)
    out = tmp_path / "results"
    proc = bench(["--benchmark-only", "--workload", "folder", "--data-dir", str(root), "--scale", "smoke",
                  "--recipe", "baseline", "--weights", "none", "--results-dir", str(out)], cache_dir)
    for name in CLASSES:
        assert f"recipebench:   {name} " in proc.stdout
    (path,) = out.rglob("baseline-seed0.json")
    text = path.read_bytes().decode("utf-8")
    doc = json.loads(text)
    assert doc["status"] == "ok" and doc["n_classes"] == 3
    named = {n for p in doc["most_confused"] for n in (p["actual"], p["predicted"])}
    assert named <= set(CLASSES)
    for a_name in named:  # UTF-8 JSON: the names as they are, not \u escapes
        assert f'"{a_name}"' in text
    summary = (path.parent / "summary.md").read_text(encoding="utf-8")
    for a_name in named:
        assert a_name in summary
    table = subprocess.run([sys.executable, "-m", "recipebench", "table", str(out)], capture_output=True,
                           timeout=300, env={**subprocess_env(cache_dir), "PYTHONIOENCODING": "utf-8"})
    assert table.returncode == 0, table.stderr
    shown = table.stdout.decode("utf-8")
    for a_name in named:
        assert a_name in shown
    # a terminal or CI log that takes ASCII only (LC_ALL=C with Python's UTF-8 mode off, or PYTHONIOENCODING):
    # the documents still read as UTF-8, and what cannot be shown is escaped, never a UnicodeEncodeError
    ascii_only = {**subprocess_env(cache_dir), "LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    ascii_only.pop("PYTHONIOENCODING", None)
    table = subprocess.run([sys.executable, "-m", "recipebench", "table", str(out)], capture_output=True,
                           timeout=300, env=ascii_only)
    assert table.returncode == 0, table.stderr.decode("utf-8", "replace")
    shown = table.stdout.decode("ascii")
    for a_name in named:
        assert a_name.encode("ascii", "backslashreplace").decode() in shown


def test_file_names_that_are_not_utf8_stop_the_run_naming_them(tmp_path):
    import os

    from recipebench.data.checks import DataError

    root = class_folders(tmp_path / "mine", {"Dogs": 12, "chat noir": 12})
    latin1 = os.fsencode(root) + b"/Caf\xe9 noir"  # as an old zip or another system's encoding leaves it
    try:
        os.rename(os.fsencode(root / "chat noir"), latin1)
    except OSError as exc:  # pragma: no cover - a file system that holds only UTF-8 names
        pytest.skip(f"this file system refuses a name that is not UTF-8 ({exc})")
    with pytest.raises(DataError) as info:
        checked_data(root, None, tmp_path / "cache", "test folder")
    message = str(info.value)
    assert "12 file name(s)" in message and "not valid UTF-8" in message and "Caf\\xe9 noir/" in message
    message.encode("utf-8")  # the message itself can be printed and logged
