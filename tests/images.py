"""Small image trees in the Pets layout for tests, and every kind of file a real dataset throws at you."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

from PIL import Image

SIZE = (40, 32)  # px; presizing scales them up, which is fine for tests
COLOURS = ((200, 40, 40), (40, 160, 60), (40, 60, 200), (200, 180, 40))


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


def pets_tree(root: Path, classes: tuple[str, ...] = ("Abyssinian", "Bengal"), per_class: int = 8) -> Path:
    """``root/<Class>_<n>.jpg``, ``per_class`` good RGB JPEGs per class, named as in Pets."""
    root.mkdir(parents=True, exist_ok=True)
    for c, name in enumerate(classes):
        for i in range(1, per_class + 1):
            (root / f"{name}_{i}.jpg").write_bytes(encoded(picture(c, i), "JPEG"))
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
