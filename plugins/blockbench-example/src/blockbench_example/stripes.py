"""``example-stripes``: a small synthetic dataset of oriented stripes, generated on demand."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from blockbench.dataset import DatasetFactory, DatasetSource, Example
from blockbench.errors import UsageError

#: Class names and the direction (degrees) in which each class's stripes vary.
#: Horizontal stripes vary along the vertical axis, hence 90 degrees.
ORIENTATIONS: dict[str, float] = {
    "horizontal": 90.0,
    "vertical": 0.0,
    "diagonal": 45.0,
    "anti-diagonal": 135.0,
}

#: Version of the generator; bump when a change alters the images.
GENERATOR_VERSION = 1

_LIMITS = {"per_class": (2, 10_000), "size": (8, 1024), "seed": (0, 2**32 - 1)}


def stripes_image(rng: np.random.Generator, angle: float, size: int) -> np.ndarray:
    """One ``size``x``size`` RGB uint8 image of stripes varying along ``angle`` degrees (+-10)."""
    theta = np.deg2rad(angle + rng.uniform(-10.0, 10.0))
    frequency = rng.uniform(3.0, 8.0)  # stripes per image side
    phase = rng.uniform(0.0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / size
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * frequency * (xx * np.cos(theta) + yy * np.sin(theta))
                              + phase)
    dark, light = rng.uniform(0, 100, 3), rng.uniform(155, 255, 3)
    if rng.random() < 0.5:  # light stripes on dark or dark on light
        dark, light = light, dark
    image = dark + wave[..., None] * (light - dark) + rng.normal(0.0, 8.0, (size, size, 3))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


class Stripes(DatasetFactory):
    """Synthetic oriented stripes, 4 classes; generated deterministically, no download.

    Options:
        per_class: images per class.
        size: image side in pixels (the core resizes to the backbone's input).
        seed: generator seed; each seed is a different dataset.
    """

    option_defaults: ClassVar[Mapping[str, Any]] = {"per_class": 30, "size": 64, "seed": 0}

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        completed = super().check_options(options)
        for key, (low, high) in _LIMITS.items():
            value = completed[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise UsageError(
                    f"example-stripes option {key}={value!r} is not valid; "
                    f"use a whole number from {low} to {high}"
                )
        return completed

    def load(self, **options: Any) -> DatasetSource:
        opts = self.check_options(options)
        per_class, size = opts["per_class"], opts["size"]
        rng = np.random.default_rng(opts["seed"])
        digest = hashlib.sha256(f"v{GENERATOR_VERSION}:{size}".encode())
        examples = []
        for i in range(per_class):
            for label, (name, angle) in enumerate(ORIENTATIONS.items()):
                image = stripes_image(rng, angle, size)
                digest.update(image.tobytes())
                examples.append(Example(image, label, None, f"example-stripes/{name}/{i}"))
        # The fingerprint hashes the pixels, so a numpy change to the random
        # stream shows up as a different dataset instead of silently reusing runs.
        return DatasetSource(list(ORIENTATIONS), examples,
                             f"example-stripes/v{GENERATOR_VERSION}/sha256:{digest.hexdigest()}")
