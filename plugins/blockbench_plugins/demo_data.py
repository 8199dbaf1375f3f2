"""Deterministic synthetic images for the offline demo (numpy only, no TensorFlow).

Every image shows one textured, coloured shape on a noisy, cluttered
background. Two tasks share this rendering and differ only in their classes:

* ``source`` (pretraining): which of :data:`SOURCE_SHAPES` is shown.
* ``target`` (the ``demo`` dataset): which of :data:`TARGET_SHAPES` is shown,
  shapes the backbone never saw during pretraining.

Colours, fill texture (solid, stripes at any angle, checks, dots), position,
size, small rotations, background gradient, clutter strokes and pixel noise are
nuisances drawn at random for every image. So the low-level features learned
on the source task (edges, texture and noise suppression) transfer, while the
top of the backbone must adapt to the new shapes.

Images are drawn from ``numpy.random.default_rng([seed, task, class, index])``,
so each one depends only on its own coordinates: the same call returns the
same bytes, and a class's first images do not change when ``n_per_class`` grows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Bump when rendering changes: it enters the demo dataset's fingerprint.
GENERATOR_VERSION = 1
#: Images are rendered at this side (the demo backbone's default input size).
IMAGE_SIZE = 32
#: Pixel noise (standard deviation, on a 0-1 scale) and clutter strokes per image.
NOISE_SD = 0.06
CLUTTER_STROKES = 3
#: Rendering supersamples each pixel SUPERSAMPLE x SUPERSAMPLE times (anti-aliasing).
SUPERSAMPLE = 2

Mask = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _r(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.hypot(u, v)


def _polygon(n: int, rotation: float = 0.0) -> Mask:
    """Regular ``n``-gon of circumradius 1 (the intersection of its half-planes)."""
    apothem = np.cos(np.pi / n)

    def mask(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        inside = np.ones(u.shape, dtype=bool)
        for k in range(n):
            angle = rotation + (2 * k + 1) * np.pi / n
            inside &= u * np.cos(angle) + v * np.sin(angle) <= apothem
        return inside

    return mask


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    theta = np.arctan2(v, u)
    return _r(u, v) <= 0.55 + 0.45 * np.cos(5 * (theta - np.pi / 2)) ** 2


#: Shape masks on object coordinates (u right, v up, the shape within radius ~1).
SHAPES: dict[str, Mask] = {
    "disk": lambda u, v: _r(u, v) <= 0.9,
    "ring": lambda u, v: (_r(u, v) <= 0.95) & (_r(u, v) >= 0.55),
    "square": lambda u, v: np.maximum(abs(u), abs(v)) <= 0.75,
    "diamond": lambda u, v: abs(u) + abs(v) <= 1.0,
    "triangle": _polygon(3, rotation=np.pi / 2),
    "hexagon": _polygon(6),
    "plus": lambda u, v: ((abs(u) <= 0.3) & (abs(v) <= 0.95)) | ((abs(v) <= 0.3) & (abs(u) <= 0.95)),
    "hbar": lambda u, v: (abs(v) <= 0.32) & (abs(u) <= 0.95),
    "star": _star,
    "half-disk": lambda u, v: (_r(u, v) <= 0.95) & (v >= -0.2),
    "frame": lambda u, v: (np.maximum(abs(u), abs(v)) <= 0.85) & (np.maximum(abs(u), abs(v)) >= 0.5),
    "cross": lambda u, v: (abs(u - v) <= 0.4) & (abs(u + v) <= 1.9) | (abs(u + v) <= 0.4) & (abs(u - v) <= 1.9),
    "tee": lambda u, v: ((v >= 0.4) & (v <= 0.9) & (abs(u) <= 0.9)) | ((abs(u) <= 0.27) & (v <= 0.9) & (v >= -0.9)),
    "ell": lambda u, v: ((u >= -0.8) & (u <= -0.3) & (abs(v) <= 0.9)) | ((v >= -0.9) & (v <= -0.4) & (u >= -0.8) & (u <= 0.8)),
    "crescent": lambda u, v: (_r(u, v) <= 0.95) & (_r(u - 0.45, v) >= 0.75),
    "vee": lambda u, v: (abs(abs(u) - (v + 0.9) * 0.5) <= 0.22) & (v >= -0.9) & (v <= 0.9),
}

SOURCE_SHAPES = ("disk", "ring", "square", "diamond", "triangle", "hexagon", "plus", "hbar",
                 "star", "half-disk")
TARGET_SHAPES = ("frame", "cross", "tee", "ell", "crescent", "vee")
SOURCE_SHAPES = ("disk", "ring", "square", "triangle", "plus", "hbar", "star", "half-disk", "frame", "crescent")
TASKS = {"source": SOURCE_SHAPES, "target": TARGET_SHAPES,
         "rot": ("tee@0", "tee@180", "ell@0", "ell@180", "vee@0", "vee@180")}
JITTER = {"source": np.pi, "target": 0.3, "rot": 0.3}
_TASK_ID = {"source": 1, "target": 2, "rot": 3}


@dataclass(frozen=True)
class Task:
    """Images and labels of one synthetic task.

    Attributes:
        images: uint8 array (n, size, size, 3), grouped by class.
        labels: int array (n,), indices into ``class_names``.
        class_names: the shapes, in label order.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]


TEXTURES = ("solid", "stripes", "checks", "dots")


def _texture(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, kind: int) -> np.ndarray:
    """A fill pattern in [0, 1]: solid, stripes at a random angle, checks or dots."""
    period = rng.uniform(3.0, 6.0) / IMAGE_SIZE * 2  # in the [-1, 1] image frame
    phase = rng.uniform(0, 2 * np.pi)
    angle = rng.uniform(0, np.pi)
    a = (x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period + phase
    b = (-x * np.sin(angle) + y * np.cos(angle)) * 2 * np.pi / period
    if kind == 0:
        return np.ones_like(x)
    if kind == 1:
        return (np.sin(a) > 0).astype(float)
    if kind == 2:
        return ((np.sin(a) > 0) ^ (np.sin(b) > 0)).astype(float)
    return ((np.sin(a) > 0.3) & (np.sin(b) > 0.3)).astype(float)


def _contrasting_colour(rng: np.random.Generator, against: np.ndarray) -> np.ndarray:
    """A random RGB colour whose mean brightness differs from ``against`` by at least 0.3."""
    colour = rng.uniform(0, 1, 3)
    gap = colour.mean() - against.mean()
    if abs(gap) < 0.3:
        colour = np.clip(colour + (0.3 - gap if gap >= 0 else -0.3 - gap), 0, 1)
    return colour


def render(cls: str, rng: np.random.Generator, size: int = IMAGE_SIZE, jitter: float = 0.3) -> np.ndarray:
    """Render one image of class ``shape[/texture]`` with random nuisances, as uint8 (size, size, 3)."""
    shape, _, turn = cls.partition("@")
    kind = int(rng.integers(len(TEXTURES)))
    n = size * SUPERSAMPLE
    grid = (np.arange(n) + 0.5) / n * 2 - 1
    x, y = np.meshgrid(grid, -grid)  # y up, like the shape coordinates
    background = rng.uniform(0, 1, 3)
    slope = rng.normal(0, 0.15, (2, 3))
    image = background + x[..., None] * slope[0] + y[..., None] * slope[1]
    for _ in range(CLUTTER_STROKES):
        p, q = rng.uniform(-1, 1, 2), rng.uniform(-1, 1, 2)
        d = q - p
        t = np.clip(((x - p[0]) * d[0] + (y - p[1]) * d[1]) / max(d @ d, 1e-9), 0, 1)
        dist = np.hypot(x - p[0] - t * d[0], y - p[1] - t * d[1])
        stroke = dist <= rng.uniform(0.03, 0.07)
        image[stroke] = rng.uniform(0, 1, 3)
    scale = rng.uniform(0.45, 0.7)
    cx, cy = rng.uniform(-1 + scale, 1 - scale, 2)
    angle = np.radians(float(turn or 0)) + rng.uniform(-jitter, jitter)
    u = ((x - cx) * np.cos(angle) + (y - cy) * np.sin(angle)) / scale
    v = (-(x - cx) * np.sin(angle) + (y - cy) * np.cos(angle)) / scale
    mask = SHAPES[shape](u, v)
    fg = _contrasting_colour(rng, background)
    fg2 = _contrasting_colour(rng, background)
    pattern = _texture(rng, x, y, kind)[..., None]
    fill = pattern * fg + (1 - pattern) * fg2
    image = np.where(mask[..., None], fill, image)
    image = image.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(1, 3))
    image = image + rng.normal(0, NOISE_SD, image.shape)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def make_task(task: str, n_per_class: int, seed: int = 0, size: int = IMAGE_SIZE) -> Task:
    """Render ``n_per_class`` images of every class of ``task`` ("source" or "target")."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
    shapes = TASKS[task]
    images = np.empty((len(shapes) * n_per_class, size, size, 3), dtype=np.uint8)
    for label, shape in enumerate(shapes):
        for i in range(n_per_class):
            rng = np.random.default_rng([seed, _TASK_ID[task], label, i])
            images[label * n_per_class + i] = render(shape, rng, size, JITTER[task])
    labels = np.repeat(np.arange(len(shapes)), n_per_class)
    return Task(images, labels, shapes)


def fingerprint(task: str, n_per_class: int, seed: int, size: int = IMAGE_SIZE) -> str:
    """Stable identity of a generated task: generator version plus a digest of its parameters."""
    params = {
        "version": GENERATOR_VERSION, "task": task, "classes": TASKS[task],
        "n_per_class": n_per_class, "seed": seed, "size": size, "noise": NOISE_SD,
        "clutter": CLUTTER_STROKES, "supersample": SUPERSAMPLE,
    }
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    return f"demo-v{GENERATOR_VERSION}:{digest}"
