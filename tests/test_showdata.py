"""`recipebench show-batch` and `recipebench summary`: a workload's data looked at as the chapter does,
for the built-in workloads (synthetic, pets, folder) and a plugin's."""
from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import SHARED
from tests.images import encoded, pets_tree, picture
from tests.test_report import run_cli

TINY_WORKLOAD = textwrap.dedent('''
    from recipebench import Scale, Workload, folder_data, hookimpl

    SCALES = {name: Scale(name, presize=40, image_size=32, batch_size=4, arch="resnet18", deep_arch="resnet18")
              for name in ("smoke", "quick", "full")}

    def prepare(request):
        return folder_data(request.data_dir, r"(.+)_\\d+.jpg$", "a plugin's folder")

    @hookimpl
    def recipebench_add_workloads(register):
        register(Workload("tiny", "a plugin's workload", prepare=prepare, scales=SCALES))
''')


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(io.BytesIO(path.read_bytes())) as im:
        assert im.format == "PNG"
        return im.size


def look(capsys, tmp_path: Path, *args) -> str:
    """show-batch then summary with these options; the summary's text."""
    out_png = tmp_path / "batch.png"
    code, out, err = run_cli(capsys, "show-batch", *args, "--out", out_png)
    assert code == 0, err
    assert out.strip() == str(out_png) and png_size(out_png) == (1000, 1060)
    code, out, err = run_cli(capsys, "summary", *args)
    assert code == 0, err
    assert "Setting-up type transforms pipelines" in out and "Building one batch" in out
    assert "Applying batch_tfms to the batch built" in out
    return out


def test_synthetic(capsys, tmp_path, cache_dir):
    text = look(capsys, tmp_path, "--workload", "synthetic", "--scale", "smoke", "--cache-dir", cache_dir)
    assert "Resize -- {'size': (48, 48)" in text  # the smoke scale's presize
    assert "RandomResizedCropGPU -- {'size': (32, 32)" in text and "TensorCategory" in text


def test_folder_labelled_by_class_folders(capsys, tmp_path, cache_dir):
    data = tmp_path / "mine"
    for c, name in enumerate(("apples", "pears")):
        (data / name).mkdir(parents=True)
        for i in range(25):  # 40 training images: more than one batch of the smoke scale's 32
            (data / name / f"{i}.png").write_bytes(encoded(picture(c, i), "PNG"))
    text = look(capsys, tmp_path, "--workload", "folder", "--data-dir", data, "--scale", "smoke",
                "--cache-dir", cache_dir)
    assert "'vocab': ['apples', 'pears']" in text


def test_a_plugin_workload(capsys, tmp_path, cache_dir):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "tiny_workload.py").write_text(TINY_WORKLOAD)
    data = pets_tree(tmp_path / "tiny", classes=("Abyssinian", "Bengal"), per_class=6)
    text = look(capsys, tmp_path, "--workload", "tiny", "--plugins-dir", tmp_path / "plugins", "--data-dir", data,
                "--scale", "smoke", "--cache-dir", cache_dir)
    assert "Resize -- {'size': (40, 40)" in text


def test_real_pets(capsys, tmp_path, cache_dir):
    images = SHARED / "pets" / "images"
    if not images.is_dir():
        pytest.skip(f"no real Pets images under {SHARED} (set RECIPEBENCH_SHARED to use them)")
    subset = tmp_path / "pets"
    subset.mkdir()
    for breed in ("Abyssinian", "Bengal", "american_bulldog"):
        for path in sorted(images.glob(f"{breed}_*.jpg"))[:20]:
            (subset / path.name).symlink_to(path)
    text = look(capsys, tmp_path, "--workload", "pets", "--data-dir", subset, "--scale", "smoke", "--cache-dir", cache_dir)
    assert "RegexLabeller" in text or "american_bulldog" in text or "Bengal" in text


@pytest.mark.parametrize("args, message", [
    (["--workload", "nope"], "unknown workload 'nope'"),
    (["--workload", "folder"], "pass --data-dir DIR"),
    (["--workload", "synthetic", "--scale", "huge"], "--scale 'huge': choose one of smoke, quick, full"),
])
def test_bad_options_are_usage_errors(args, message, capsys, tmp_path, cache_dir):
    code, _, err = run_cli(capsys, "summary", *args, "--cache-dir", cache_dir)
    assert code == 2 and message in err and "Traceback" not in err
