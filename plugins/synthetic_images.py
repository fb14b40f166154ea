"""Procedural images for the embedded ``synthetic`` workload.

Each class is a kind of object -- a shape, a surface pattern and a hue -- drawn at a random place,
size and angle on a noisy, cluttered background, so a small CNN can learn the classes but not
trivially. Some classes come in *confusable pairs* (same shape and pattern, nearby hue or pattern
period), so ``most_confused`` has something to say. Every image is generated from
``(seed, class, index)`` alone: the same settings always give the same files.
"""
from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

#: Bump when the drawing or the choice of classes changes: it is part of every cache key.
GENERATOR_VERSION = 2

SHAPES = ("disc", "square", "triangle", "diamond", "cross", "ring", "star", "hexagon")
PATTERNS = ("plain", "stripes", "dots", "checks", "rings")
HUE_JITTER_DEG = 9.0
PAIR_HUE_GAP_DEG = 30.0  # hue gap between the two classes of a hue-confusable pair
PAIR_PERIOD_RATIO = 1.6  # pattern-period ratio between the two classes of a period-confusable pair
SOURCE_HUE_GAP_DEG = 60.0  # a source class shares a target's shape and pattern only this far away in hue


@dataclass(frozen=True)
class ClassSpec:
    """One generated class."""

    name: str
    shape: str
    pattern: str
    hue_deg: float
    period: float  # pattern period as a fraction of the object's radius


@dataclass(frozen=True)
class ImageSpec:
    """The size range of generated images (px). Sizes and aspect ratios vary per image."""

    min_side_lo: int
    min_side_hi: int
    max_aspect: float = 1.5


def make_classes(n_target: int, n_pairs: int, n_source: int, seed: int,
                 source_pairs: int = 0) -> tuple[list[ClassSpec], list[ClassSpec]]:
    """Target classes (``n_pairs`` of them confusable pairs) and disjoint source classes for pretraining.

    The target classes' hues are spread evenly round the wheel (a hue pair's two classes in
    neighbouring slots), so apart from the designed pairs no two are alike by chance.
    The source classes share the target's visual vocabulary but none of its classes, as ImageNet's
    dogs and cats share Pets' but are other breeds: first one source class for each target class's
    shape and pattern, at a hue at least ``SOURCE_HUE_GAP_DEG`` away from every target class of that
    shape and pattern, then the combinations no target class uses, then any at such a hue. The first
    ``source_pairs`` of them come with a confusable partner, so pretraining teaches the fine hue and
    period differences the target pairs need.
    """
    if n_pairs * 2 > n_target:
        raise ValueError(f"{n_pairs} confusable pairs need at least {2 * n_pairs} classes, got {n_target}")
    if source_pairs * 2 > n_source:
        raise ValueError(f"{source_pairs} source pairs need at least {2 * source_pairs} source classes, got {n_source}")
    rng = np.random.default_rng([seed, 0xC1A55])
    combos = [(s, p) for s in SHAPES for p in PATTERNS]
    rng.shuffle(combos)
    n_combos = n_target - n_pairs
    if n_combos > len(combos):
        # More classes than combinations: reuse combinations (at other hues).
        combos = combos * (n_combos // len(combos) + 1)
    # Hue slots round the wheel, in random order: one per class, two neighbouring ones for a hue pair.
    widths = [2 if i < n_pairs and _hue_pair(pattern, i) else 1 for i, (_, pattern) in enumerate(combos[:n_combos])]
    order = rng.permutation(n_combos)
    starts = np.zeros(n_combos)
    starts[order] = np.cumsum([0] + [widths[i] for i in order[:-1]])
    step = 360.0 / sum(widths)
    hues = (rng.uniform(0, 360) + step * (starts + rng.uniform(-0.15, 0.15, n_combos))) % 360
    target: list[ClassSpec] = []
    for i, (shape, pattern) in enumerate(combos[:n_combos]):
        first = _spec(shape, pattern, float(hues[i]), float(rng.uniform(0.35, 0.6)), target)
        target.append(first)
        if i < n_pairs:
            target.append(_partner(first, i, target))
    # Source kinds: first each target class's shape and pattern (at a far hue), then the unused ones.
    target_kinds = list(dict.fromkeys((c.shape, c.pattern) for c in target))
    fresh = target_kinds + [c for c in combos[n_combos:] if c not in target_kinds]
    source: list[ClassSpec] = []
    pairs_left = source_pairs
    attempts = 0
    while len(source) < n_source:
        attempts += 1
        if attempts > 10_000:  # pragma: no cover - only with absurd class counts
            raise ValueError(f"cannot make {n_source} source classes disjoint from {n_target} target classes")
        shape, pattern = fresh.pop(0) if fresh else (SHAPES[int(rng.integers(len(SHAPES)))],
                                                      PATTERNS[int(rng.integers(len(PATTERNS)))])
        made = _far_classes(shape, pattern, rng, target + source, paired=pairs_left > 0 and len(source) + 2 <= n_source,
                            k=pairs_left)
        source += made
        pairs_left -= len(made) == 2
    return target, source


def _far_classes(shape: str, pattern: str, rng: np.random.Generator, taken: list[ClassSpec], paired: bool,
                 k: int) -> list[ClassSpec]:
    """A source class of ``shape`` and ``pattern`` (with its confusable partner if ``paired``) at a hue
    ``SOURCE_HUE_GAP_DEG`` away from every class in ``taken`` of that shape and pattern; [] if none found."""
    for _ in range(50):
        first = _spec(shape, pattern, float(rng.uniform(0, 360)), float(rng.uniform(0.35, 0.6)), taken)
        made = [first, _partner(first, k, taken + [first])] if paired else [first]
        if all(_far(c, taken) for c in made):
            return made
    return []


def _hue_pair(pattern: str, k: int) -> bool:
    """Whether the ``k``-th confusable pair differs in hue (plain surfaces, and every other pair) or in period."""
    return pattern == "plain" or k % 2 == 0


def _partner(spec: ClassSpec, k: int, taken: list[ClassSpec]) -> ClassSpec:
    """The other class of the ``k``-th confusable pair: ``PAIR_HUE_GAP_DEG`` further in hue, or
    ``PAIR_PERIOD_RATIO`` times the pattern period."""
    if _hue_pair(spec.pattern, k):
        return _spec(spec.shape, spec.pattern, (spec.hue_deg + PAIR_HUE_GAP_DEG) % 360, spec.period, taken)
    return _spec(spec.shape, spec.pattern, spec.hue_deg, spec.period * PAIR_PERIOD_RATIO, taken)


def _far(spec: ClassSpec, others: list[ClassSpec]) -> bool:
    """No class in ``others`` has ``spec``'s shape and pattern within ``SOURCE_HUE_GAP_DEG`` of its hue."""
    return all((c.shape, c.pattern) != (spec.shape, spec.pattern) or _hue_gap(c.hue_deg, spec.hue_deg) >= SOURCE_HUE_GAP_DEG
               for c in others)


def _hue_gap(a: float, b: float) -> float:
    d = abs(a - b) % 360
    return min(d, 360 - d)


def _spec(shape: str, pattern: str, hue: float, period: float, taken: list[ClassSpec]) -> ClassSpec:
    base = f"{pattern}_{shape}_h{int(round(hue)) % 360:03d}"
    name, k = base, 2
    while any(c.name == name for c in taken):
        name, k = f"{base}v{k}", k + 1
    return ClassSpec(name, shape, pattern, hue, period)


def _rgb(hue_deg: float, sat: float, val: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb((hue_deg % 360) / 360, min(max(sat, 0), 1), min(max(val, 0), 1))) * 255


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        pts = [(1, 1), (-1, 1), (-1, -1), (1, -1)]
        pts = [(x * 0.75, y * 0.75) for x, y in pts]
    elif shape == "triangle":
        pts = [(math.cos(a), math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
    elif shape == "diamond":
        pts = [(0, -1), (0.55, 0), (0, 1), (-0.55, 0)]
    elif shape == "hexagon":
        pts = [(math.cos(k * math.pi / 3), math.sin(k * math.pi / 3)) for k in range(6)]
    elif shape == "star":
        pts = [((1 if k % 2 == 0 else 0.45) * math.cos(k * math.pi / 5 - math.pi / 2),
                (1 if k % 2 == 0 else 0.45) * math.sin(k * math.pi / 5 - math.pi / 2)) for k in range(10)]
    elif shape == "cross":
        a, b = 0.3, 1.0
        pts = [(a, b), (-a, b), (-a, a), (-b, a), (-b, -a), (-a, -a), (-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a)]
    else:
        raise ValueError(f"no polygon for shape {shape!r}")
    ca, sa = math.cos(angle), math.sin(angle)
    return [(cx + r * (x * ca - y * sa), cy + r * (x * sa + y * ca)) for x, y in pts]


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, angle: float, fill) -> None:
    if shape in ("disc", "ring"):
        ry = r * 0.8  # slightly elliptic so the angle matters
        draw.ellipse([cx - r, cy - ry, cx + r, cy + ry], fill=fill)
        if shape == "ring":
            draw.ellipse([cx - r * 0.5, cy - ry * 0.5, cx + r * 0.5, cy + ry * 0.5], fill=0 if isinstance(fill, int) else None)
    else:
        draw.polygon(_polygon(shape, cx, cy, r, angle), fill=fill)


def _pattern_mask(pattern: str, u: np.ndarray, v: np.ndarray, period_px: float) -> np.ndarray:
    if pattern == "plain":
        return np.zeros(u.shape, dtype=bool)
    if pattern == "stripes":
        return np.sin(2 * np.pi * u / period_px) > 0
    if pattern == "dots":
        du, dv = np.mod(u, period_px) - period_px / 2, np.mod(v, period_px) - period_px / 2
        return du * du + dv * dv < (0.32 * period_px) ** 2
    if pattern == "checks":
        return (np.floor(u / period_px) + np.floor(v / period_px)) % 2 == 0
    if pattern == "rings":
        return np.sin(2 * np.pi * np.sqrt(u * u + v * v) / period_px) > 0
    raise ValueError(f"unknown pattern {pattern!r}")


def render(spec: ClassSpec, size: ImageSpec, seed: int, class_index: int, index: int) -> Image.Image:
    """One image of class ``spec``; a pure function of its arguments."""
    rng = np.random.default_rng([seed, class_index, index])
    short = int(rng.integers(size.min_side_lo, size.min_side_hi + 1))
    long_ = int(short * rng.uniform(1.0, size.max_aspect))
    w, h = (long_, short) if rng.random() < 0.5 else (short, long_)

    # Background: a low-saturation colour, a gradient and pixel noise.
    bg_rgb = _rgb(rng.uniform(0, 360), rng.uniform(0.05, 0.35), rng.uniform(0.35, 0.9))
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    grad_dir = rng.uniform(0, 2 * np.pi)
    grad = ((gx * math.cos(grad_dir) + gy * math.sin(grad_dir)) / max(w, h) - 0.5) * rng.uniform(0, 70)
    img = bg_rgb[None, None, :] + grad[..., None] + rng.normal(0, 10, (h, w, 1)).astype(np.float32)

    # Clutter: a few small plain shapes of random colours.
    clutter = Image.new("RGB", (w, h))
    clutter_mask = Image.new("L", (w, h), 0)
    cdraw, mdraw = ImageDraw.Draw(clutter), ImageDraw.Draw(clutter_mask)
    for _ in range(int(rng.integers(0, 3))):
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        r = short * rng.uniform(0.05, 0.12)
        cx, cy, ang = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, 2 * np.pi)
        colour = tuple(int(c) for c in _rgb(rng.uniform(0, 360), rng.uniform(0.2, 0.9), rng.uniform(0.3, 1.0)))
        _draw_shape(cdraw, shape, cx, cy, r, ang, fill=colour)
        _draw_shape(mdraw, shape, cx, cy, r, ang, fill=255)
    cm = np.asarray(clutter_mask, dtype=np.float32)[..., None] / 255
    img = img * (1 - cm) + np.asarray(clutter, dtype=np.float32) * cm

    # The object: shape filled with its pattern in two tones of the class hue.
    r = short * rng.uniform(0.28, 0.44)
    cx = rng.uniform(r * 0.7, w - r * 0.7)
    cy = rng.uniform(r * 0.7, h - r * 0.7)
    angle = rng.uniform(0, 2 * np.pi)
    hue = spec.hue_deg + rng.uniform(-HUE_JITTER_DEG, HUE_JITTER_DEG)
    light = _rgb(hue, rng.uniform(0.6, 0.9), rng.uniform(0.75, 0.95))
    dark = _rgb(hue, rng.uniform(0.5, 0.8), rng.uniform(0.25, 0.45))
    u = (gx - cx) * math.cos(angle) + (gy - cy) * math.sin(angle)
    v = -(gx - cx) * math.sin(angle) + (gy - cy) * math.cos(angle)
    period_px = max(2.5, spec.period * r * rng.uniform(0.9, 1.1))
    pm = _pattern_mask(spec.pattern, u, v, period_px)[..., None]
    surface = np.where(pm, dark[None, None, :], light[None, None, :])
    mask = Image.new("L", (w, h), 0)
    _draw_shape(ImageDraw.Draw(mask), spec.shape, cx, cy, r, angle, fill=255)
    om = np.asarray(mask, dtype=np.float32)[..., None] / 255
    img = img * (1 - om) + surface * om
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def write_images(folder: Path, classes: list[ClassSpec], per_class: int, size: ImageSpec, seed: int,
                 progress: Callable[[int, int, str], None] | None = None, what: str = "images") -> int:
    """Write ``per_class`` images of each class as ``folder/<class>_<n>.jpg`` (the Pets layout);
    ``progress(done, total, what)`` after each image."""
    folder.mkdir(parents=True, exist_ok=True)
    n, total = 0, len(classes) * per_class
    for ci, spec in enumerate(classes):
        for i in range(per_class):
            render(spec, size, seed, ci, i).save(folder / f"{spec.name}_{i + 1}.jpg", quality=90)
            n += 1
            if progress is not None:
                progress(n, total, what)
    return n
