"""Turn a registered dataset into arrays: decode, resize, cache, split.

Images are decoded with TensorFlow (imported lazily) in a parallel
``tf.data`` pipeline (or, for a Keras backend without TensorFlow, with Pillow:
:mod:`blockbench.data.pillow_decode`), converted to RGB (grayscale is replicated, alpha is
dropped, animations give their first frame) and squashed to S x S without
cropping, as Keras' ``image_dataset_from_directory`` does by default. The
resize is bilinear *with* antialiasing, so downscaling large photos to small
inputs does not alias, and the float result is rounded to uint8 (antialiased
bilinear weights are non-negative, so values stay in range; the cast saturates
anyway). Undecodable images (a truncated file included: TensorFlow's decoders
refuse one rather than fill it with grey) are skipped, counted per class and
listed in the notes; a class left with no image is refused, saying why.

The decoded array is cached per process and, when a ``cache_dir`` is given,
on disk as ``.npy`` (images) plus ``.json`` (labels and the rest), keyed by
the dataset's name, fingerprint, options, the input size and
:data:`PIPELINE_VERSION`, so a search reuses one array for all its runs and a
repeated command line does not decode again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from blockbench.components.dataset import SPLITS, DatasetFactory, DatasetSource
from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.quiet import quiet_section
from blockbench.core.task import SplitConfig
from blockbench.data.disk_cache import Decoded, read_disk, write_disk
from blockbench.data.memory import check_decoded_fits
from blockbench.data.pillow_decode import DECODERS, as_rgb, decode_images_pillow
from blockbench.data.split import make_split

log = logging.getLogger(__name__)

#: Bump when decoding or resizing changes what the arrays hold (invalidates disk caches).
PIPELINE_VERSION = 1
_LISTED_REFS = 20
_BATCH = 128
#: Float32 bytes one resize batch may take: large input sizes resize fewer images at a time.
_BATCH_BYTES = 256 << 20


def resize_batch(input_size: int) -> int:
    """Images resized at a time at ``input_size`` (at most 128, at least 1)."""
    return max(1, min(_BATCH, _BATCH_BYTES // (int(input_size) ** 2 * 3 * 4)))


@dataclass
class PreparedData:
    """A dataset ready for training: uint8 images, labels and the split.

    Attributes:
        images: uint8 array (N, S, S, 3), read-only (it may be shared by a cache).
        labels: int64 class indices (N,).
        class_names: names of the classes, indexed by label.
        indices: sorted example indices for "train", "val" and "test".
        fingerprint: the dataset's content identity (for the run hash).
        split_identity: how the split was made (for the run hash).
        skipped: images that could not be read or decoded.
        notes: remarks on the data (images skipped, duplicates left out), one
            line each; every run record carries them.
        input_size: S, the side of every image.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    indices: dict[str, np.ndarray]
    fingerprint: str
    split_identity: dict[str, Any]
    skipped: int = 0
    notes: list[str] = field(default_factory=list)
    input_size: int = 0

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def x(self, split: str) -> np.ndarray:
        """Images of one split (a copy, in index order)."""
        return self.images[self._index(split)]

    def y(self, split: str) -> np.ndarray:
        """Labels of one split."""
        return self.labels[self._index(split)]

    def _index(self, split: str) -> np.ndarray:
        if split not in self.indices:
            raise UsageError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        return self.indices[split]


_MEMORY: dict[str, Decoded] = {}


def clear_cache() -> None:
    """Forget the decoded datasets held in this process."""
    _MEMORY.clear()


def prepare(
    name: str,
    factory: DatasetFactory,
    options: Mapping[str, Any],
    input_size: int,
    split: SplitConfig,
    *,
    cache_dir: str | Path | None = None,
    decoder: str = "tensorflow",
) -> PreparedData:
    """Load, decode, resize and split a dataset (decoding at most once per key).

    Args:
        name: the registered dataset name (for messages and the cache key).
        factory: the registered factory.
        options: the user's dataset options (checked and completed here).
        input_size: side S of the square images.
        split: how to split.
        cache_dir: where to keep decoded arrays between processes (None: no disk cache).
        decoder: "tensorflow" (``tf.data``) or "pillow" (:mod:`blockbench.data.pillow_decode`,
            for a Keras backend without TensorFlow).
    """
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
        raise UsageError(f"input size {input_size!r} is not valid; use a positive number of pixels")
    options = factory.check_options(options)
    source = factory.load(**options)
    if decoder not in DECODERS:
        raise ValueError(f"decoder {decoder!r} is not one of {DECODERS}")
    key = cache_key(name, source.fingerprint, options, input_size, decoder)
    decoded = _MEMORY.get(key)
    if decoded is None and cache_dir is not None:
        decoded = read_disk(Path(cache_dir), key, input_size)
    if decoded is None:
        decoded = decode_source(source, input_size, name=name, decoder=decoder)
        if cache_dir is not None:
            try:
                write_disk(Path(cache_dir), key, decoded)
            except OSError as exc:  # the run goes on without it; not a note on the data
                log.warning("could not write the dataset cache in %s: %s", cache_dir, exc)
    _MEMORY[key] = decoded

    if split.kind == "official" and decoded.official is None:
        raise UsageError(f"dataset {name!r} has no official split; use a stratified split")
    official = decoded.official if split.kind == "official" else None
    indices = make_split(decoded.labels, split, official, class_names=decoded.class_names)
    carved = official is not None and "val" not in set(official)
    return PreparedData(
        images=decoded.images,
        labels=decoded.labels,
        class_names=list(decoded.class_names),
        indices=indices,
        fingerprint=source.fingerprint,
        split_identity=split.identity(carved_val=carved),
        skipped=decoded.skipped,
        notes=list(decoded.notes),
        input_size=input_size,
    )


def cache_key(name: str, fingerprint: str, options: Mapping[str, Any], input_size: int,
              decoder: str = "tensorflow") -> str:
    """Hex digest identifying one decoded array (the TensorFlow decoder's keys are as before)."""
    identity = {"name": name, "fingerprint": fingerprint, "options": dict(options),
                "input_size": input_size, "pipeline": PIPELINE_VERSION}
    if decoder != "tensorflow":
        identity["decoder"] = decoder
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def decode_source(source: DatasetSource, input_size: int, *, name: str = "dataset",
                  decoder: str = "tensorflow") -> Decoded:
    """Consume a source's examples and decode them to (N, S, S, 3) uint8 with ``decoder``."""
    payloads: list[bytes | np.ndarray] = []
    labels: list[int] = []
    splits: list[str | None] = []
    refs: list[str] = []
    n_classes = len(source.class_names)
    if isinstance(source.examples, Sized):  # known before reading a file: refuse at once
        check_decoded_fits(len(source.examples), input_size, resize_batch(input_size), name)
    for i, example in enumerate(source.examples):
        if not 0 <= int(example.label) < n_classes:
            raise BlockbenchError(f"dataset {name!r} gave label {example.label} for "
                                  f"{example.ref or i}; it has {n_classes} classes")
        if example.split is not None and example.split not in SPLITS:
            raise BlockbenchError(f"dataset {name!r} gave split {example.split!r} for "
                                  f"{example.ref or i}; valid: {', '.join(SPLITS)}")
        payloads.append(example.image)
        labels.append(int(example.label))
        splits.append(example.split)
        refs.append(example.ref or f"#{i}")
    # Read after consuming: a lazy factory counts the files it could not read as it goes.
    skipped, notes = source.skipped, list(source.notes)
    check_decoded_fits(len(payloads), input_size, resize_batch(input_size), name)
    decode = decode_images_pillow if decoder == "pillow" else decode_images
    images, ok = decode(payloads, input_size)
    label_array = np.asarray(labels, dtype=np.int64)
    bad = [refs[i] for i in np.flatnonzero(~ok)]
    undecodable = np.bincount(label_array[~ok], minlength=n_classes)
    if bad:
        listed = ", ".join(bad[:_LISTED_REFS])
        more = f" and {len(bad) - _LISTED_REFS} more" if len(bad) > _LISTED_REFS else ""
        by_class = ", ".join(f"{source.class_names[c]} {n}" for c, n in enumerate(undecodable) if n)
        notes.append(f"skipped {len(bad)} undecodable image(s) ({by_class}): {listed}{more}")
        images = images[ok]
    if len(images) == 0 and bad:
        raise UsageError(f"dataset {name!r} has no decodable image "
                         f"({len(bad) + skipped} skipped)")
    _check_no_empty_class(source, label_array[ok], undecodable, name)
    if len(images) == 0:
        raise UsageError(f"dataset {name!r} gave no image ({skipped} skipped)")
    images.flags.writeable = False
    keep = np.flatnonzero(ok)
    official = [splits[i] for i in keep] if source.has_official_split else None
    return Decoded(images, label_array[keep], list(source.class_names),
                   official, skipped + len(bad), notes)


def _check_no_empty_class(source: DatasetSource, decoded_labels: np.ndarray,
                          undecodable: np.ndarray, name: str) -> None:
    """Refuse a class left with no image by what was skipped, saying why (one line)."""
    counts = np.bincount(decoded_labels, minlength=len(source.class_names))
    for c, class_name in enumerate(source.class_names):
        reasons = {r: n for r, n in source.dropped.get(class_name, {}).items() if n}
        if undecodable[c]:
            reasons["undecodable"] = int(undecodable[c])
        if counts[c] or not reasons:
            continue  # a class the factory gave nothing at all: the split names it
        total = sum(reasons.values())
        why = (f"all {next(iter(reasons))}" if len(reasons) == 1 else
               "none usable: " + ", ".join(f"{n} {r}" for r, n in reasons.items()))
        raise UsageError(f"class {class_name!r} of dataset {name!r} has no usable image: "
                         f"{total} file(s), {why}; fix or remove them")


def decode_images(payloads: Sequence[bytes | np.ndarray], input_size: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Decode and resize encoded images or arrays; returns (images, decoded-ok mask)."""
    import tensorflow as tf

    size = int(input_size)
    out = np.zeros((len(payloads), size, size, 3), dtype=np.uint8)
    ok = np.zeros(len(payloads), dtype=bool)
    encoded = [i for i, p in enumerate(payloads) if isinstance(p, (bytes, bytearray))]
    if encoded:
        def decode(index: Any, blob: Any) -> tuple[Any, Any]:
            image = tf.io.decode_image(blob, channels=3, expand_animations=False)
            return index, _resize(tf, image, size)

        blobs = tf.constant([bytes(payloads[i]) for i in encoded], dtype=tf.string)
        dataset = (tf.data.Dataset.from_tensor_slices((tf.constant(encoded, tf.int64), blobs))
                   .map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
                   .ignore_errors()  # a corrupt image drops out; its index shows it was skipped
                   .batch(resize_batch(size)))
        # libjpeg reports each corrupt file on descriptor 2; the notes count and name them.
        with quiet_section():
            for index, batch in dataset.as_numpy_iterator():
                out[index] = batch
                ok[index] = True
    by_shape: dict[tuple[int, ...], list[tuple[int, np.ndarray]]] = {}
    for i, payload in enumerate(payloads):
        if not isinstance(payload, (bytes, bytearray)):
            rgb = as_rgb(payload)
            if rgb is not None:
                by_shape.setdefault(rgb.shape, []).append((i, rgb))
    for shape, items in by_shape.items():
        step = resize_batch(size)
        for start in range(0, len(items), step):
            chunk = items[start:start + step]
            index = [i for i, _ in chunk]
            batch = np.stack([a for _, a in chunk])
            out[index] = batch if shape[:2] == (size, size) else _resize(tf, batch, size).numpy()
            ok[index] = True
    return out, ok


def _resize(tf: Any, images: Any, size: int) -> Any:
    resized = tf.image.resize(images, (size, size), method="bilinear", antialias=True)
    return tf.saturate_cast(tf.round(resized), tf.uint8)
