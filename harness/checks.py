"""Before the DataBlock (the data stage): every image file checked once, so a dataset that fights back is
dealt with before training instead of crashing it half-way.

* Unreadable files (zero bytes, truncated, not an image at all) are left out, with a warning that
  names them; results list them in ``skipped_files``.
* Readable odd ones (PNG or GIF content named ``.jpg``, grayscale, CMYK, RGBA, palette) are
  converted to RGB copies in the cache -- the user's folder is never written to -- and kept;
  results list them in ``converted_files``. fastai then reads a folder of links to the original
  files plus the converted copies, under the same relative names, so labels and split are unchanged.
* File names the labeller cannot parse, an empty folder or a single class stop the run with a
  :class:`DataError` that names the files, the regex and the fix.

The scan is cached (keyed by the folder's path and each file's name, size and mtime), so a folder
of thousands of images is decoded once, not every session.
"""
from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

from recipebench.api import PreparedData
from recipebench.cache import cached_dir
from recipebench.data import fingerprint, image_files

#: Bump when what the scan decides, or how it converts, changes: old cache entries are then ignored.
CHECK_VERSION = 1
#: File names shown in one message before "... (N in all)".
NAMED = 8
#: What each file name extension promises (PIL format names); MPO is a multi-picture JPEG.
SUFFIX_FORMATS = {
    ".jpg": ("JPEG", "MPO"), ".jpeg": ("JPEG", "MPO"), ".png": ("PNG",), ".gif": ("GIF",), ".bmp": ("BMP",),
    ".tif": ("TIFF",), ".tiff": ("TIFF",), ".webp": ("WEBP",),
}
JPEG_QUALITY = 95  # converted copies named .jpg/.jpeg are written as JPEG at this quality, others as PNG

Verdict = Literal["ok", "convert", "skip"]


class DataError(ValueError):
    """A folder that cannot be trained on as it stands; the message names the files and the fix."""


class DataWarning(UserWarning):
    """Files left out of training because they cannot be read as images."""


@dataclass(frozen=True)
class FileNote:
    """A file the check left out or converted, and why."""

    name: str  # POSIX path relative to the checked folder
    reason: str


@dataclass(frozen=True)
class FolderScan:
    """What checking every image file of a folder found."""

    folder: Path  # the user's folder, never written to
    images_dir: Path  # what fastai reads: ``folder`` itself, or a cached folder with converted copies
    skipped: tuple[FileNote, ...]
    converted: tuple[FileNote, ...]


def listing(names: Sequence[str], limit: int = NAMED) -> str:
    """``a, b, c`` -- at most ``limit`` names, then how many there are in all."""
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def inspect_image(path: Path) -> tuple[Verdict, str]:
    """Open and fully decode ``path``: ``("ok", "")``, ``("convert", what is odd)`` or ``("skip", why)``."""
    from PIL import Image, UnidentifiedImageError

    if path.stat().st_size == 0:
        return "skip", "empty (0 bytes)"
    try:
        with Image.open(path) as im:
            fmt, mode = im.format, im.mode
            im.load()  # decodes every byte: truncated data fails here, not in a DataLoader worker
    except UnidentifiedImageError:
        return "skip", "not an image (PIL cannot identify it)"
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError...
        what = "truncated" if "truncated" in str(exc).lower() else "unreadable"
        return "skip", f"{what} ({type(exc).__name__}: {exc})"
    odd = []
    expected = SUFFIX_FORMATS.get(path.suffix.lower())
    if expected is not None and fmt not in expected:
        odd.append(f"{fmt} content named {path.suffix}")
    if mode != "RGB":
        odd.append(f"mode {mode}")
    return ("convert", ", ".join(odd)) if odd else ("ok", "")


def convert_image(src: Path, dest: Path) -> None:
    """Write ``src`` as a plain RGB image to ``dest`` (JPEG when ``dest`` is named so, else PNG).

    Transparent pixels are composited onto white rather than whatever colour they hide.
    """
    from PIL import Image

    with Image.open(src) as im:
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            rgb = Image.new("RGB", rgba.size, (255, 255, 255))
            rgb.paste(rgba, mask=rgba.getchannel("A"))
        else:
            rgb = im.convert("RGB")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.suffix.lower() in (".jpg", ".jpeg"):
        rgb.save(dest, format="JPEG", quality=JPEG_QUALITY)
    else:
        rgb.save(dest, format="PNG")


def _stamp(folder: Path, files: Sequence[Path]) -> str:
    """sha256 over each file's relative name, size and modification time."""
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(folder).as_posix()}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def scan_folder(folder: Path, files: Sequence[Path], cache_dir: Path) -> FolderScan:
    """Check every file of ``files`` (under ``folder``, an absolute path) once; cached under ``cache_dir``."""
    params = {"version": CHECK_VERSION, "folder": str(folder), "files": _stamp(folder, files)}
    root = cached_dir(Path(cache_dir) / "checks", "scan", params, lambda tmp: _scan_into(tmp, folder, files))
    report = json.loads((root / "scan.json").read_text())
    converted = tuple(FileNote(*n) for n in report["converted"])
    return FolderScan(folder=folder, images_dir=root / "images" if converted else folder,
                      skipped=tuple(FileNote(*n) for n in report["skipped"]), converted=converted)


def _scan_into(root: Path, folder: Path, files: Sequence[Path]) -> None:
    """Inspect ``files``; when any needs converting, build ``root/images``: links to the good files
    and converted copies of the odd ones, under their original relative names."""
    notes: dict[Verdict, list[tuple[str, str]]] = {"ok": [], "convert": [], "skip": []}
    for path in files:
        verdict, reason = inspect_image(path)
        notes[verdict].append((path.relative_to(folder).as_posix(), reason))
    if notes["convert"]:
        view = root / "images"
        for name, _ in notes["ok"]:
            (view / name).parent.mkdir(parents=True, exist_ok=True)
            (view / name).symlink_to(folder / name)
        for name, _ in notes["convert"]:
            convert_image(folder / name, view / name)
    doc: dict[str, Any] = {"version": CHECK_VERSION, "folder": str(folder), "n_files": len(files),
                           "skipped": notes["skip"], "converted": notes["convert"]}
    (root / "scan.json").write_text(json.dumps(doc, indent=1))


def labels(folder: Path, files: Sequence[Path], label_re: str | None) -> dict[Path, str]:
    """Each file's label: ``label_re``'s group on the file name, or the parent folder's name.

    Raises :class:`DataError` naming the files the labeller cannot parse.
    """
    rel = lambda p: p.relative_to(folder).as_posix()  # noqa: E731
    if label_re is None:
        loose = [rel(p) for p in files if p.parent == folder]
        if loose:
            raise DataError(
                f"labels come from each image's parent folder, but {len(loose)} image(s) lie directly in {folder} "
                f"rather than in a class sub-folder: {listing(loose)}. Move them into <class>/ folders, or pass "
                "--label-re REGEX to label by file name")
        return {p: p.parent.name for p in files}
    pattern = re.compile(label_re)
    found = {p: pattern.search(p.name) for p in files}
    bad = [rel(p) for p, m in found.items() if m is None]
    if bad:
        raise DataError(
            f"the labeller cannot parse {len(bad)} of {len(files)} file name(s) in {folder}: the label regex "
            f"{label_re!r} does not match {listing(bad)}. Rename or remove them, or pass --label-re with a regex "
            "(one group: the label) that matches every file name")
    return {p: m.group(1) for p, m in found.items()}


def checked_data(folder: Path, label_re: str | None, cache_dir: Path, what: str, **kw: Any) -> PreparedData:
    """``folder`` checked file by file and ready for the DataBlock (``kw``: more :class:`PreparedData` fields).

    Raises :class:`DataError` for an empty folder, names the labeller cannot parse, or fewer than two
    classes; warns (:class:`DataWarning`) naming every file left out as unreadable.
    """
    folder = Path(folder).expanduser().resolve()
    files = image_files(folder)
    if not files:
        raise DataError(f"no image files (.jpg, .png, ...) in {folder} or its sub-folders; point --data-dir at "
                        "the folder that holds the images (for Pets: the 'images' folder)")
    try:
        label_of = labels(folder, files, label_re)  # before decoding anything: a wrong regex fails at once
    except DataError as exc:
        if (folder / "images").is_dir():  # e.g. the Pets root, whose annotations/ holds PNG trimaps
            raise DataError(f"{exc} (did you mean --data-dir {folder / 'images'}?)") from None
        raise
    scan = scan_folder(folder, files, cache_dir)
    skipped = [n.name for n in scan.skipped]
    if scan.skipped:
        warnings.warn(DataWarning(
            f"left out {len(skipped)} unreadable image file(s) of {folder}: "
            + "; ".join(f"{n.name}: {n.reason}" for n in scan.skipped[:NAMED])
            + (f"; ... ({len(skipped)} in all, listed in the results' skipped_files)" if len(skipped) > NAMED else "")
        ), stacklevel=2)
    left_out = set(skipped)
    kept = [p for p in files if p.relative_to(folder).as_posix() not in left_out]
    if not kept:
        raise DataError(f"none of the {len(files)} image files in {folder} can be read: {listing(skipped)}")
    classes = Counter(label_of[p] for p in kept)
    if len(classes) < 2:
        source = "their parent folder" if label_re is None else f"the label regex {label_re!r}"
        raise DataError(f"every readable image in {folder} gets the same label {next(iter(classes))!r} from {source}: "
                        "a classifier needs at least two classes (check --data-dir and --label-re)")
    description = f"{what}: {len(kept)} images, {len(classes)} classes"
    if skipped:
        description += f", {len(skipped)} unreadable left out"
    if scan.converted:
        description += f", {len(scan.converted)} converted to RGB"
    return PreparedData(images_dir=scan.images_dir, label_re=label_re, fingerprint=fingerprint(folder, files),
                        n_files=len(kept), skipped_files=tuple(skipped),
                        converted_files=tuple(n.name for n in scan.converted), description=description, **kw)
