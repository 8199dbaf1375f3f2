"""Deterministic synthetic images for the offline demo (numpy only, no TensorFlow).

Every image shows one textured, coloured shape on a noisy, cluttered
background. Two tasks share this rendering and differ in their classes:

* ``source`` (pretraining demo-cnn): which of ten shapes is shown, the shape
  turned by any angle, so the labels never depend on orientation.
* ``target`` (the ``demo`` dataset): three shapes the source never shows
  (``tee``, ``ell``, ``vee``), each upright or upside down (turned by at most
  17 degrees either way): six classes.

A classifier on the source features must therefore learn new shapes *and*
recover the orientation that rotation-invariant source training taught the top
of the backbone to ignore. Colours, fill texture (solid, stripes, checks or
dots at any angle), position, size, background gradient, three clutter strokes
and pixel noise are nuisances drawn anew for every image.

Image ``i`` of class ``c`` is drawn from ``numpy.random.default_rng([seed, task, c, i])``,
so it depends only on its own coordinates: the same call returns the same
bytes, and a class's first images do not change when ``n_per_class`` grows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Bump when rendering changes; it is part of the demo dataset's fingerprint.
GENERATOR_VERSION = 1
#: Images are rendered at this side (the demo backbone's default input size).
IMAGE_SIZE = 32
#: Pixel noise (standard deviation on a 0-1 scale) and clutter strokes per image.
NOISE_SD = 0.06
CLUTTER_STROKES = 3
#: Each pixel averages SUPERSAMPLE x SUPERSAMPLE samples (anti-aliasing).
SUPERSAMPLE = 2
TEXTURES = ("solid", "stripes", "checks", "dots")

Mask = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _r(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.hypot(u, v)


def _box(u: np.ndarray, v: np.ndarray, u0: float, u1: float, v0: float, v1: float) -> np.ndarray:
    return (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)


def _triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Equilateral triangle of circumradius 1, apex up."""
    inside = np.ones(u.shape, dtype=bool)
    for angle in (np.pi / 2 + np.pi / 3, np.pi / 2 + np.pi, np.pi / 2 - np.pi / 3):
        inside &= u * np.cos(angle) + v * np.sin(angle) <= 0.5
    return inside


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    theta = np.arctan2(v, u)
    return _r(u, v) <= 0.55 + 0.45 * np.cos(5 * (theta - np.pi / 2)) ** 2


#: Shape masks in object coordinates (u right, v up; each shape fits in the unit disk).
SHAPES: dict[str, Mask] = {
    "disk": lambda u, v: _r(u, v) <= 0.9,
    "ring": lambda u, v: (_r(u, v) <= 0.95) & (_r(u, v) >= 0.55),
    "square": lambda u, v: np.maximum(abs(u), abs(v)) <= 0.7,
    "triangle": _triangle,
    "plus": lambda u, v: _box(u, v, -0.3, 0.3, -0.95, 0.95) | _box(u, v, -0.95, 0.95, -0.3, 0.3),
    "hbar": lambda u, v: _box(u, v, -0.95, 0.95, -0.32, 0.32),
    "star": _star,
    "half-disk": lambda u, v: (_r(u, v) <= 0.95) & (v >= -0.2),
    "frame": lambda u, v: (np.maximum(abs(u), abs(v)) <= 0.7) & (np.maximum(abs(u), abs(v)) >= 0.4),
    "crescent": lambda u, v: (_r(u, v) <= 0.95) & (_r(u - 0.45, v) >= 0.75),
    "tee": lambda u, v: _box(u, v, -0.9, 0.9, 0.4, 0.9) | _box(u, v, -0.27, 0.27, -0.9, 0.9),
    "ell": lambda u, v: _box(u, v, -0.8, -0.3, -0.9, 0.9) | _box(u, v, -0.8, 0.8, -0.9, -0.4),
    "vee": lambda u, v: (abs(abs(u) - (v + 0.9) * 0.5) <= 0.22) & (v >= -0.9) & (v <= 0.9),
}


@dataclass(frozen=True)
class TaskSpec:
    """The classes of one task.

    Attributes:
        classes: (class name, shape, turn in degrees) per label.
        jitter: each image is turned by a further uniform angle in [-jitter, jitter] radians.
        task_id: enters every image's random stream, so tasks never share images.
    """

    classes: tuple[tuple[str, str, float], ...]
    jitter: float
    task_id: int

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.classes)


_SOURCE_SHAPES = ("disk", "ring", "square", "triangle", "plus", "hbar", "star", "half-disk",
                  "frame", "crescent")
TASKS: dict[str, TaskSpec] = {
    "source": TaskSpec(tuple((s, s, 0.0) for s in _SOURCE_SHAPES), jitter=np.pi, task_id=1),
    "target": TaskSpec(
        tuple((f"{s}-{way}", s, turn) for s in ("tee", "ell", "vee")
              for way, turn in (("up", 0.0), ("down", 180.0))),
        jitter=0.3, task_id=2,
    ),
}


@dataclass(frozen=True)
class Task:
    """Images and labels of one synthetic task.

    Attributes:
        images: uint8 array (n, size, size, 3), grouped by class.
        labels: int array (n,), indices into ``class_names``.
        class_names: the class names, in label order.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]


def _texture(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A random fill pattern in [0, 1] (one of TEXTURES) over the image grid."""
    kind = TEXTURES[int(rng.integers(len(TEXTURES)))]
    period = rng.uniform(3.0, 6.0) * 2 / IMAGE_SIZE  # 3-6 pixels in the [-1, 1] frame
    phase = rng.uniform(0, 2 * np.pi)
    angle = rng.uniform(0, np.pi)
    a = (x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period + phase
    b = (-x * np.sin(angle) + y * np.cos(angle)) * 2 * np.pi / period
    if kind == "solid":
        return np.ones_like(x)
    if kind == "stripes":
        return (np.sin(a) > 0).astype(float)
    if kind == "checks":
        return ((np.sin(a) > 0) ^ (np.sin(b) > 0)).astype(float)
    return ((np.sin(a) > 0.3) & (np.sin(b) > 0.3)).astype(float)


def _contrasting_colour(rng: np.random.Generator, against: np.ndarray) -> np.ndarray:
    """A random RGB colour whose mean brightness differs from ``against`` by at least 0.3."""
    colour = rng.uniform(0, 1, 3)
    gap = colour.mean() - against.mean()
    if abs(gap) < 0.3:
        colour = np.clip(colour + (0.3 - gap if gap >= 0 else -0.3 - gap), 0, 1)
    return colour


def render(shape: str, turn: float, jitter: float, rng: np.random.Generator,
           size: int = IMAGE_SIZE) -> np.ndarray:
    """One image of ``shape`` turned by ``turn`` degrees (plus jitter), as uint8 (size, size, 3)."""
    n = size * SUPERSAMPLE
    grid = (np.arange(n) + 0.5) / n * 2 - 1
    x, y = np.meshgrid(grid, -grid)  # y points up, like the shape coordinates
    background = rng.uniform(0, 1, 3)
    slope = rng.normal(0, 0.15, (2, 3))
    image = background + x[..., None] * slope[0] + y[..., None] * slope[1]
    for _ in range(CLUTTER_STROKES):
        p, q = rng.uniform(-1, 1, 2), rng.uniform(-1, 1, 2)
        d = q - p
        t = np.clip(((x - p[0]) * d[0] + (y - p[1]) * d[1]) / max(d @ d, 1e-9), 0, 1)
        stroke = np.hypot(x - p[0] - t * d[0], y - p[1] - t * d[1]) <= rng.uniform(0.03, 0.07)
        image[stroke] = rng.uniform(0, 1, 3)
    scale = rng.uniform(0.45, 0.7)
    cx, cy = rng.uniform(-1 + scale, 1 - scale, 2)
    angle = np.radians(turn) + rng.uniform(-jitter, jitter)
    u = ((x - cx) * np.cos(angle) + (y - cy) * np.sin(angle)) / scale
    v = (-(x - cx) * np.sin(angle) + (y - cy) * np.cos(angle)) / scale
    mask = SHAPES[shape](u, v)
    fg = _contrasting_colour(rng, background)
    fg2 = _contrasting_colour(rng, background)
    pattern = _texture(rng, x, y)[..., None]
    image = np.where(mask[..., None], pattern * fg + (1 - pattern) * fg2, image)
    image = image.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(1, 3))
    image = image + rng.normal(0, NOISE_SD, image.shape)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def make_task(task: str, n_per_class: int, seed: int = 0, size: int = IMAGE_SIZE) -> Task:
    """Render ``n_per_class`` images of every class of ``task`` ("source" or "target")."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
    spec = TASKS[task]
    images = np.empty((len(spec.classes) * n_per_class, size, size, 3), dtype=np.uint8)
    for label, (_, shape, turn) in enumerate(spec.classes):
        for i in range(n_per_class):
            rng = np.random.default_rng([seed, spec.task_id, label, i])
            images[label * n_per_class + i] = render(shape, turn, spec.jitter, rng, size)
    labels = np.repeat(np.arange(len(spec.classes)), n_per_class)
    return Task(images, labels, spec.class_names)


def fingerprint(task: Task) -> str:
    """Identity of a generated task: generator version and a digest of its classes, labels and pixels."""
    digest = hashlib.sha256()
    digest.update("\n".join(task.class_names).encode())
    digest.update(np.ascontiguousarray(task.labels, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(task.images).tobytes())
    return f"demo-v{GENERATOR_VERSION}:{digest.hexdigest()[:16]}"
