"""Small image trees in the Pets layout for tests, and every kind of file a real dataset throws at you."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Callable, Mapping

from PIL import Image

SIZE = (40, 32)  # px; presizing scales them up, which is fine for tests
COLOURS = ((200, 40, 40), (40, 160, 60), (40, 60, 200), (200, 180, 40))
#: Images per class in :func:`pets_tree`: enough that the chapter's random split (20%, seed 42) puts
#: at least one image of each class in validation, with or without the bad files (with 8, one class
#: gets none, and the check warns that its errors go unmeasured).
PER_CLASS = 10


def picture(class_index: int, i: int, mode: str = "RGB") -> Image.Image:
    """A small image whose colour says its class and whose diagonal stripe varies with ``i``."""
    im = Image.new("RGB", SIZE, COLOURS[class_index % len(COLOURS)])
    for x in range(SIZE[0]):
        im.putpixel((x, (x + 3 * i) % SIZE[1]), (0, 0, 0))
    return im.convert(mode)


def encoded(im: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def pets_tree(root: Path, classes: tuple[str, ...] = ("Abyssinian", "Bengal"), per_class: int = PER_CLASS) -> Path:
    """``root/<Class>_<n>.jpg``, ``per_class`` good RGB JPEGs per class, named as in Pets."""
    root.mkdir(parents=True, exist_ok=True)
    for c, name in enumerate(classes):
        for i in range(1, per_class + 1):
            (root / f"{name}_{i}.jpg").write_bytes(encoded(picture(c, i), "JPEG"))
    return root


#: Extensions as they come from phones, cameras and the web: (suffix, PIL format).
SUFFIXES = ((".jpg", "JPEG"), (".JPG", "JPEG"), (".jpeg", "JPEG"), (".png", "PNG"))


def class_folders(root: Path, counts: Mapping[str, int], colour_of: Mapping[str, int] | None = None) -> Path:
    """``root/<class>/<class> <n>.<ext>``: ``counts[class]`` good RGB images per class, their extensions
    cycling through :data:`SUFFIXES` and their names holding a space; ``colour_of``: a class's colour
    index (default: its position), so that a class split over train/ and valid/ looks the same in both."""
    for c, (name, n) in enumerate(counts.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        colour = c if colour_of is None else colour_of[name]
        for i in range(n):
            suffix, fmt = SUFFIXES[i % len(SUFFIXES)]
            (root / name / f"{name} {i}{suffix}").write_bytes(encoded(picture(colour, i), fmt))
    return root


def as_they_come(root: Path, per_class: int = 8) -> Path:
    """A folder the way image datasets usually come: ``Cats/`` and ``Dogs/`` with mixed
    .jpg/.JPG/.jpeg/.png, spaces in names, a ``README.txt``, a ``.DS_Store``, and one image in a
    sub-folder, ``Dogs/extra/nested.jpg`` (a Dogs image: the class is the top-level folder)."""
    class_folders(root, {"Cats": per_class, "Dogs": per_class})
    (root / "Dogs" / "extra").mkdir()
    (root / "Dogs" / "extra" / "nested.jpg").write_bytes(encoded(picture(1, 99), "JPEG"))
    (root / "README.txt").write_text("Cats and dogs, photographed at home.\n")
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(100))
    return root


def split_folders(root: Path, train: Mapping[str, int], valid: Mapping[str, int], valid_name: str = "valid") -> Path:
    """``root/train/<class>/...`` and ``root/<valid_name>/<class>/...`` (:func:`class_folders`), a class
    keeping its colour in both."""
    colour_of = {name: c for c, name in enumerate(dict.fromkeys([*train, *valid]))}
    class_folders(root / "train", train, colour_of)
    class_folders(root / valid_name, valid, colour_of)
    return root


def _rgba_with_a_hole() -> Image.Image:
    im = picture(0, 1, "RGBA")
    for x in range(10):
        for y in range(10):
            im.putpixel((x, y), (0, 0, 0, 0))  # transparent black: must become white, not black
    return im


#: Files that cannot be read: left out. name -> contents.
UNREADABLE: dict[str, Callable[[], bytes]] = {
    "Abyssinian_90.jpg": lambda: b"",
    "Abyssinian_91.jpg": lambda: encoded(picture(0, 91), "JPEG")[:300],
    "Bengal_90.jpg": lambda: b"<html>403 Forbidden</html>\n",
}
#: Files that read but are not RGB JPEGs: converted and kept. name -> contents.
ODD: dict[str, Callable[[], bytes]] = {
    "Abyssinian_92.jpg": lambda: encoded(picture(0, 92), "PNG"),
    "Bengal_91.jpg": lambda: encoded(picture(1, 91), "GIF"),
    "Bengal_92.jpg": lambda: encoded(picture(1, 92, "L"), "JPEG"),
    "Abyssinian_93.jpg": lambda: encoded(picture(0, 93, "CMYK"), "JPEG"),
    "Bengal_93.jpg": lambda: encoded(_rgba_with_a_hole(), "PNG"),
}


def add_bad_files(root: Path) -> None:
    """Write every file of :data:`UNREADABLE` and :data:`ODD` into ``root``."""
    for name, make in {**UNREADABLE, **ODD}.items():
        (root / name).write_bytes(make())


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and mtime, to prove a folder was not touched."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def huge_png(width: int, height: int) -> bytes:
    """A valid one-bit PNG of ``width`` x ``height`` black pixels: a few KB on disk however many pixels it
    declares (written chunk by chunk, so no image of that size is ever held in memory)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the row's bits, all 0
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
