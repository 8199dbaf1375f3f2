"""The on-disk cache of decoded datasets: ``.npy`` images plus ``.json`` labels and notes.

A reader never pairs a half-written array with metadata: both files are
written to a temporary name and renamed into place, images first. An entry
that is absent, truncated or of another shape reads as None and is rebuilt.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Decoded:
    """A dataset decoded at one input size: what the caches hold."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    official: list[str | None] | None
    skipped: int = 0
    notes: list[str] = field(default_factory=list)


def _paths(cache_dir: Path, key: str) -> tuple[Path, Path]:
    return cache_dir / f"dataset-{key}.npy", cache_dir / f"dataset-{key}.json"


def read_disk(cache_dir: Path, key: str, input_size: int) -> Decoded | None:
    """The cached array, or None if absent or unusable (then it is rebuilt)."""
    npy, meta_path = _paths(cache_dir, key)
    try:
        meta = json.loads(meta_path.read_text())
        images = np.load(npy, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not {"labels", "class_names", "official", "skipped",
                                          "notes"} <= set(meta):
        return None
    if images.dtype != np.uint8 or images.shape != (len(meta["labels"]), input_size, input_size, 3):
        return None
    return Decoded(images, np.asarray(meta["labels"], dtype=np.int64), meta["class_names"],
                   meta["official"], meta["skipped"], meta["notes"])


def write_disk(cache_dir: Path, key: str, decoded: Decoded) -> None:
    """Store ``decoded`` under ``key`` (raises OSError when the folder is not writable)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    npy, meta_path = _paths(cache_dir, key)
    meta = {"labels": decoded.labels.tolist(), "class_names": decoded.class_names,
            "official": decoded.official, "skipped": decoded.skipped, "notes": decoded.notes}
    # Images first, metadata last and each renamed into place: a reader never
    # pairs a half-written array with metadata.
    for target, write in ((npy, lambda f: np.save(f, decoded.images)),
                          (meta_path, lambda f: f.write(json.dumps(meta).encode()))):
        fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
