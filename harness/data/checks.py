"""Before the DataBlock (the data stage): every image file checked once, so a dataset that fights back is
dealt with before training instead of crashing it half-way.

* Unreadable files (zero bytes, truncated, not an image at all) and images past Pillow's
  decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, never decoded) are left out, with a warning
  that names them; results list them in ``skipped_files``.
* Readable odd ones (PNG or GIF content named ``.jpg``, grayscale, CMYK, RGBA, palette) are
  converted to RGB copies in the cache -- the user's folder is never written to -- and kept;
  results list them in ``converted_files``. fastai then reads a folder of links to the original
  files plus the converted copies, under the same relative names, so labels and split are unchanged.
* File names the labeller cannot parse or that are not valid UTF-8, an empty folder or a single class
  stop the run with a :class:`DataError` that names the files, the regex and the fix.
* Classes: without a regex, an image's class is its top-level folder (``DIR/<class>/...`` at any
  depth, torchvision's ``ImageFolder``) or, asked for, its parent folder (fastai's ``parent_label``).
* Split: a folder that comes split (``DIR/train/<class>/...`` and ``DIR/valid/`` or ``DIR/val/``)
  trains on that split; others on the chapter's random one (:func:`find_folders`).
* Classes too small to train -- fewer than :data:`MIN_CLASS_IMAGES` images, or none in training under
  the split in use -- stop the run before training with one line naming them, or are left out when
  asked (``--drop-small-classes``): never a ``KeyError`` half-way. A class with no validation image
  trains, but its errors go unmeasured: a warning names it.

The scan is cached (keyed by the folder's path and each file's name, size and mtime), so a folder
of thousands of images is decoded once, not every session; labels, split and class counts are plain
string work on the file names, about a second for 50,000 files.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

from recipebench.api import FolderSplit, LabelFolder, PreparedData
from recipebench.data.cache import cached_dir
from recipebench.data.datablock import (
    folder_label,
    image_files,
    names_fingerprint,
    relative_names,
    split_description,
    split_indices,
)

#: Bump when what the scan decides, or how it converts, changes: old cache entries are then ignored.
CHECK_VERSION = 2  # 2: images past Pillow's decompression-bomb limit are left out
#: File names shown in one message before "... (N in all)".
NAMED = 8
#: What each file name extension promises (PIL format names); MPO is a multi-picture JPEG.
SUFFIX_FORMATS = {
    ".jpg": ("JPEG", "MPO"), ".jpeg": ("JPEG", "MPO"), ".png": ("PNG",), ".gif": ("GIF",), ".bmp": ("BMP",),
    ".tif": ("TIFF",), ".tiff": ("TIFF",), ".webp": ("WEBP",),
}
JPEG_QUALITY = 95  # converted copies named .jpg/.jpeg are written as JPEG at this quality, others as PNG
#: A folder that comes split: ``train/`` beside a validation folder, ``valid/`` or ``val/`` (fastai's and
#: torchvision's names). ``test/`` is never read unless named as the validation folder (``--split folders:test``).
TRAIN_FOLDER = "train"
VALID_FOLDERS = ("valid", "val")
SPLIT_FOLDERS = (TRAIN_FOLDER, *VALID_FOLDERS, "test")
VALID_NAMED = " or ".join(f"{v}/" for v in VALID_FOLDERS)
#: A class needs this many images, at least one of them in training (and should have one in validation).
MIN_CLASS_IMAGES = 5
#: Classes listed one per line in the report before the rest are summed up.
REPORTED_CLASSES = 30

Verdict = Literal["ok", "convert", "skip"]
#: The pixel count in Pillow's decompression-bomb message ("Image size (N pixels) exceeds limit of ...").
_PIXELS = re.compile(r"\((\d+) pixels\)")


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
        with warnings.catch_warnings():  # past MAX_IMAGE_PIXELS Pillow only warns: left out here, as past twice it
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
            fmt, mode = im.format, im.mode
            im.load()  # decodes every byte: truncated data fails here, not in a DataLoader worker
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        found = _PIXELS.search(str(exc))
        pixels = f"{int(found.group(1)):,} pixels > " if found else ""
        return "skip", (f"past Pillow's decompression-bomb limit ({pixels}PIL.Image.MAX_IMAGE_PIXELS = "
                        f"{Image.MAX_IMAGE_PIXELS:,}): not decoded")
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


def _stamp(names: Sequence[str], stats: Sequence[os.stat_result]) -> str:
    """sha256 over each file's relative name, size and modification time."""
    h = hashlib.sha256()
    for name, st in zip(names, stats):
        h.update(f"{name}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def scan_folder(folder: Path, names: Sequence[str], cache_dir: Path,
                stats: Sequence[os.stat_result] | None = None) -> FolderScan:
    """Check every file of ``names`` (relative to ``folder``, an absolute path) once; cached under
    ``cache_dir``. ``stats``: the files' ``os.stat`` results, when the caller has them already."""
    if stats is None:
        stats = [os.stat(folder / n) for n in names]
    params = {"version": CHECK_VERSION, "folder": str(folder), "files": _stamp(names, stats)}
    root = cached_dir(Path(cache_dir) / "checks", "scan", params, lambda tmp: _scan_into(tmp, folder, names))
    report = json.loads((root / "scan.json").read_text())
    converted = tuple(FileNote(*n) for n in report["converted"])
    return FolderScan(folder=folder, images_dir=root / "images" if converted else folder,
                      skipped=tuple(FileNote(*n) for n in report["skipped"]), converted=converted)


def _scan_into(root: Path, folder: Path, names: Sequence[str]) -> None:
    """Inspect ``names``; when any needs converting, build ``root/images``: links to the good files
    and converted copies of the odd ones, under their original relative names."""
    notes: dict[Verdict, list[tuple[str, str]]] = {"ok": [], "convert": [], "skip": []}
    for name in names:
        verdict, reason = inspect_image(folder / name)
        notes[verdict].append((name, reason))
    if notes["convert"]:
        view = root / "images"
        for name, _ in notes["ok"]:
            (view / name).parent.mkdir(parents=True, exist_ok=True)
            (view / name).symlink_to(folder / name)
        for name, _ in notes["convert"]:
            convert_image(folder / name, view / name)
    doc: dict[str, Any] = {"version": CHECK_VERSION, "folder": str(folder), "n_files": len(names),
                           "skipped": notes["skip"], "converted": notes["convert"]}
    (root / "scan.json").write_text(json.dumps(doc, indent=1))


def _top(name: str) -> str:
    """The top-level folder of a relative name ("" for a file directly in the folder)."""
    return name.split("/", 1)[0] if "/" in name else ""


def find_folders(folder: Path, names: Sequence[str], split: str) -> tuple[FolderSplit | None, bool]:
    """The training and validation folders the images ``names`` lie in, if ``folder`` comes split, and
    whether to train on exactly that split.

    ``split`` is ``--split``: ``auto`` (the folders' split when there is one, else random), ``random``
    (the chapter's random split, over the training and validation folders' images when the folder
    comes split), ``folders`` (the folders' split, required) or ``folders:NAME`` (NAME/ validates).
    A folder comes split when it has a ``train/`` folder beside ``valid/`` or ``val/``, or when its
    top-level folders are all split names (``train/`` and ``test/``: no classes are called that).
    """
    mode, _, named = split.partition(":")
    tops = sorted({_top(n) for n in names} - {""})
    shown = listing([f"{t}/" for t in tops]) or "none"
    if named:
        if TRAIN_FOLDER in tops and named in tops and named != TRAIN_FOLDER:
            return FolderSplit(TRAIN_FOLDER, named), True
        raise DataError(f"--split {split}: {folder} has no {TRAIN_FOLDER}/ and {named}/ folders with images in "
                        f"them (its top-level folders: {shown})")
    valid = [v for v in VALID_FOLDERS if v in tops]
    if TRAIN_FOLDER in tops and len(valid) > 1:
        raise DataError(f"{folder} holds both {valid[0]}/ and {valid[1]}/ beside {TRAIN_FOLDER}/: pass --split "
                        f"folders:{valid[0]} or --split folders:{valid[1]} to say which one validates")
    if TRAIN_FOLDER in tops and valid:
        return FolderSplit(TRAIN_FOLDER, valid[0]), mode != "random"
    if TRAIN_FOLDER in tops and set(tops) <= set(SPLIT_FOLDERS):
        if mode == "random":
            return FolderSplit(TRAIN_FOLDER, None), False
        held = [f"{t}/" for t in tops if t != TRAIN_FOLDER]
        raise DataError(
            f"{folder} comes split into {shown} but has no validation folder ({VALID_NAMED}): "
            + (f"pass --split folders:{held[0][:-1]} to validate on {held[0]}, or " if held else "pass ")
            + f"--split random to split {TRAIN_FOLDER}/ at random" + (f" ({', '.join(held)} not read)" if held else ""))
    if mode == "folders":
        raise DataError(f"--split folders: {folder} has no {TRAIN_FOLDER}/ and {VALID_NAMED} folders "
                        f"(its top-level folders: {shown}); pass --split random, or --split folders:NAME to name "
                        "the validation folder")
    return None, False


def labels(folder: Path, names: Sequence[str], label_re: str | None, label_folder: LabelFolder = "top",
           depth: int = 0) -> dict[str, str]:
    """Each file's label (``names`` relative to ``folder``): ``label_re``'s group on the file name, or
    the class folder (``label_folder``: the folder at ``depth``, or the parent).

    Raises :class:`DataError` naming the files the labeller cannot parse, or images that lie in no
    class folder.
    """
    if label_re is None:
        loose = [n for n in names if n.count("/") <= depth]
        if loose:
            where = folder if depth == 0 else " or ".join(sorted({str(folder / _top(n)) for n in loose}))
            raise DataError(
                f"labels come from each image's class folder, but {len(loose)} image(s) lie directly in {where} "
                f"rather than in a class sub-folder: {listing(loose)}. Move them into <class>/ folders, or pass "
                "--label-re REGEX to label by file name")
        return {n: folder_label(n, label_folder, depth) for n in names}
    pattern = re.compile(label_re)
    found = {n: pattern.search(n.rsplit("/", 1)[-1]) for n in names}
    bad = [n for n, m in found.items() if m is None]
    if bad:
        raise DataError(
            f"the labeller cannot parse {len(bad)} of {len(names)} file name(s) in {folder}: the label regex "
            f"{label_re!r} does not match {listing(bad)}. Rename or remove them, or pass --label-re with a regex "
            "(one group: the label) that matches every file name")
    return {n: m.group(1) for n, m in found.items()}


def class_counts(names: Sequence[str], label_of: Mapping[str, str],
                 folders: FolderSplit | None) -> dict[str, tuple[int, int]]:
    """Each class's (training, validation) image counts when ``names`` are split by ``folders`` (None:
    the chapter's random split), classes in fastai's (sorted) order."""
    train, valid = split_indices(names, folders)
    n_train, n_valid = Counter(label_of[names[i]] for i in train), Counter(label_of[names[i]] for i in valid)
    return {c: (n_train[c], n_valid[c]) for c in sorted({*n_train, *n_valid, *(label_of[n] for n in names)})}


def _smallest_first(counts: Mapping[str, tuple[int, int]], keep) -> dict[str, tuple[int, int]]:
    return {c: n for c, n in sorted(counts.items(), key=lambda kv: (sum(kv[1]), kv[0])) if keep(*n)}


def _too_small(counts: Mapping[str, tuple[int, int]], need_validation: bool) -> dict[str, tuple[int, int]]:
    """The classes that cannot be trained: too few images, or none in training (fastai's KeyError), or,
    with ``need_validation``, none in validation (their errors would not be measured)."""
    return _smallest_first(counts, lambda train, valid: train + valid < MIN_CLASS_IMAGES or train == 0
                           or (need_validation and valid == 0))


def _counted(counts: Mapping[str, tuple[int, int]]) -> list[str]:
    return [f"{c!r}: {t + v} image{'s' * (t + v != 1)} ({t} train, {v} valid)" for c, (t, v) in counts.items()]


def sized_classes(folder: Path, names: list[str], label_of: Mapping[str, str], folders: FolderSplit | None,
                  drop: bool, need_validation: bool = True
                  ) -> tuple[list[str], dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """``names`` without the classes too small to train, their classes' counts, and the classes left out.

    A class is too small with fewer than :data:`MIN_CLASS_IMAGES` images, or none in training under
    the split in use (``folders``; None: random), or none in validation (``need_validation``: its errors
    would not be measured). Without ``drop`` that is a :class:`DataError` naming them; with it they are
    left out (a :class:`DataWarning` names them) and the split is drawn again over the rest, until no
    class is too small. Without ``need_validation`` (a workload that must keep a published split, such
    as the chapter's Pets) classes with no validation image are kept, with a :class:`DataWarning`.
    """
    dropped: dict[str, tuple[int, int]] = {}
    while True:
        counts = class_counts(names, label_of, folders)
        small = _too_small(counts, need_validation)
        how = split_description(folders)
        if not small:
            unmeasured = _smallest_first(counts, lambda train, valid: valid == 0)
            if unmeasured:
                warnings.warn(DataWarning(
                    f"{len(unmeasured)} of {len(counts)} classes in {folder} have no validation image under the split "
                    f"{how}, so their errors are not measured: {listing(_counted(unmeasured))}"), stacklevel=3)
            return names, counts, dropped
        if not drop:
            raise DataError(
                f"{len(small)} of {len(counts)} classes in {folder} are too small to train under the split {how}: "
                f"{listing(_counted(small))}. Each class needs at least {MIN_CLASS_IMAGES} images, one or more of "
                "them in training" + (" and one or more in validation" if need_validation else "")
                + ": add images, remove those classes, or pass --drop-small-classes to train without them")
        warnings.warn(DataWarning(f"left out {len(small)} class(es) too small to train under the split {how} "
                                  f"(--drop-small-classes): {listing(_counted(small))}"), stacklevel=3)
        dropped.update(small)
        names = [n for n in names if label_of[n] not in small]


def class_report(data: PreparedData, limit: int = REPORTED_CLASSES) -> list[str]:
    """What the run trains on, before it does: the description, then each class with its image counts
    (the ``limit`` smallest when there are more, the others summed up)."""
    lines = [data.description]
    counts = sorted(data.class_counts.items(), key=lambda kv: (sum(kv[1]), kv[0]))
    if not counts:
        return lines
    from rich.cells import cell_len  # columns on a terminal: 猫 takes two, a combining accent none

    shown = counts if len(counts) <= limit else counts[:limit]
    width = max(cell_len(c) for c, _ in shown)
    lines += [f"  {c}{' ' * (width - cell_len(c))}  {t + v:>6} ({t} train, {v} valid)" for c, (t, v) in shown]
    rest = counts[len(shown):]
    if rest:
        sizes = [t + v for _, (t, v) in rest]
        lines.append(f"  ... and {len(rest)} more classes with {min(sizes)}-{max(sizes)} images each "
                     f"({sum(sizes)} in all)")
    return lines


def _not_read(folder: Path, names: Sequence[str]) -> str:
    """``test/ (20 images), 2 images directly in DIR``: the images outside the training and validation folders."""
    by_top = Counter(_top(n) for n in names)
    parts = [f"{t}/ ({k} image{'s' * (k != 1)})" for t, k in sorted(by_top.items()) if t]
    if by_top.get(""):
        parts.append(f"{by_top['']} image(s) directly in {folder}")
    return ", ".join(parts)


def checked_data(folder: Path, label_re: str | None, cache_dir: Path, what: str, *, label_folder: LabelFolder = "top",
                 split: str = "auto", drop_small_classes: bool = False, need_validation: bool = True,
                 **kw: Any) -> PreparedData:
    """``folder`` checked file by file and ready for the DataBlock (``kw``: more :class:`PreparedData` fields).

    Without ``label_re``, each image's class is its ``label_folder``: ``top``, the top-level folder
    (inside ``train/`` and ``valid/`` when the folder comes split), whatever the depth below it, or
    ``parent``, its own folder. ``split``: ``auto``, ``random``, ``folders`` or ``folders:NAME``
    (:func:`find_folders`).

    Raises :class:`DataError` for an empty folder, names the labeller cannot parse, images in no class
    folder, fewer than two classes, or classes too small to train (unless ``drop_small_classes``: then
    they are left out with a warning); warns (:class:`DataWarning`) naming every file left out as unreadable.
    """
    folder = Path(folder).expanduser().resolve()
    files = image_files(folder)
    if not files:
        raise DataError(f"no image files (.jpg, .png, ...) in {folder} or its sub-folders; point --data-dir at "
                        "the folder that holds the images (for Pets: the 'images' folder)")
    names = relative_names(folder, files)
    _utf8_names(folder, names)
    stats = [os.stat(p) for p in files]  # one pass for the fingerprint and the scan's cache key
    folders, given = find_folders(folder, names, split)
    pool = names if folders is None else [n for n in names if _top(n) in (folders.train, folders.valid)]
    try:
        label_of = labels(folder, pool, label_re, label_folder, depth=0 if folders is None else 1)
    except DataError as exc:  # before decoding anything: a wrong regex fails at once
        if (folder / "images").is_dir():  # e.g. the Pets root, whose annotations/ holds PNG trimaps
            raise DataError(f"{exc} (did you mean --data-dir {folder / 'images'}?)") from None
        raise
    stat_of = dict(zip(names, stats))
    scan = scan_folder(folder, pool, cache_dir, [stat_of[n] for n in pool])
    skipped = [n.name for n in scan.skipped]
    if scan.skipped:
        warnings.warn(DataWarning(
            f"left out {len(skipped)} unreadable image file(s) of {folder}: "
            + "; ".join(f"{n.name}: {n.reason}" for n in scan.skipped[:NAMED])
            + (f"; ... ({len(skipped)} in all, listed in the results' skipped_files)" if len(skipped) > NAMED else "")
        ), stacklevel=2)
    left_out = set(skipped)
    kept = [n for n in pool if n not in left_out]
    if not kept:
        raise DataError(f"none of the {len(pool)} image files in {folder} can be read: {listing(skipped)}")
    _two_classes(folder, {label_of[n] for n in kept}, label_re)
    training_split = folders if given else None
    kept, counts, dropped = sized_classes(folder, kept, label_of, training_split, drop_small_classes, need_validation)
    _two_classes(folder, set(counts), label_re, after_dropping=list(dropped))
    train = sum(t for t, _ in counts.values())
    description = f"{what}: {len(kept)} images, {len(counts)} classes"
    if skipped:
        description += f", {len(skipped)} unreadable left out"
    if scan.converted:
        description += f", {len(scan.converted)} converted to RGB"
    if dropped:
        description += f", {len(dropped)} class(es) too small left out ({listing(list(dropped))})"
    description += f"; split {split_description(training_split)}: {train} train / {len(kept) - train} valid"
    if len(pool) < len(names):
        in_pool = set(pool)
        description += f"; not read: {_not_read(folder, [n for n in names if n not in in_pool])}"
    return PreparedData(images_dir=scan.images_dir, label_re=label_re,
                        fingerprint=names_fingerprint(names, [st.st_size for st in stats]), n_files=len(kept),
                        skipped_files=tuple(skipped), converted_files=tuple(n.name for n in scan.converted),
                        description=description, label_folder=label_folder, folders=folders,
                        split="folders" if given else "random", items=tuple(kept), class_counts=counts,
                        dropped_classes=tuple(dropped), **kw)


def _encodes(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _utf8_names(folder: Path, names: Sequence[str]) -> None:
    """Raise :class:`DataError` naming the file names that are not valid UTF-8 (Python holds their bytes as
    surrogates): no label, document or terminal line could show them truthfully."""
    bad = [n for n in names if not _encodes(n)]
    if bad:
        shown = [repr(os.fsencode(n))[2:-1] for n in bad]  # Caf\xe9 noir/1.jpg: the bytes as they are
        raise DataError(f"{len(bad)} file name(s) in {folder} are not valid UTF-8 (an old archive's or another "
                        f"system's encoding): {listing(shown)}. Rename them to UTF-8 (for Latin-1 names: "
                        f"convmv -f latin1 -t utf8 -r --notest {folder}), or move them out")


def _two_classes(folder: Path, classes: set[str], label_re: str | None, after_dropping: Sequence[str] = ()) -> None:
    if len(classes) >= 2:
        return
    source = "their class folder" if label_re is None else f"the label regex {label_re!r}"
    if after_dropping:
        raise DataError(f"only {len(classes)} class(es) in {folder} left after leaving out the ones too small to "
                        f"train ({listing(list(after_dropping))}): a classifier needs at least two; add images")
    raise DataError(f"every readable image in {folder} gets the same label {next(iter(classes))!r} from {source}: "
                    "a classifier needs at least two classes (check --data-dir and --label-re)")
