"""Fake dataset plugins for the DatasetContract tests: one good factory, one broken per check."""

from __future__ import annotations

import itertools
import struct
import zlib
from dataclasses import replace
from typing import Any

import numpy as np

from blockbench.components.dataset import DatasetFactory, DatasetSource, DatasetSummary, Example
from blockbench.plugin.hookspecs import hookimpl
from blockbench.testing import DatasetContract


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an RGB uint8 array as PNG with the standard library only."""
    height, width, _ = image.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + image[y].tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


class GoodData(DatasetFactory):
    """Two classes of flat-colour images, half decoded arrays and half PNG bytes."""

    option_defaults = {"per_class": 4}

    def load(self, **options: Any) -> DatasetSource:
        per_class = self.check_options(options)["per_class"]
        examples = []
        for label, i in itertools.product(range(2), range(per_class)):
            image = np.full((8, 8, 3), 40 + 150 * label + i, dtype=np.uint8)
            data: bytes | np.ndarray = png_bytes(image) if i % 2 else image
            examples.append(Example(data, label, None, f"good/{label}/{i}"))
        return DatasetSource(["dark", "light"], examples, f"good-data:{per_class}")

    def describe(self, **options: Any) -> DatasetSummary:
        per_class = self.check_options(options)["per_class"]
        return DatasetSummary(2, {None: 2 * per_class}, f"good-data:{per_class}")


class DuckData:
    option_defaults: dict[str, Any] = {"per_class": 4}
    check_options = GoodData.check_options
    load = GoodData.load


class ForgetsDefaults(GoodData):
    def check_options(self, options: Any) -> dict[str, Any]:
        super().check_options(options)
        return dict(options)


class AcceptsAnything(GoodData):
    def check_options(self, options: Any) -> dict[str, Any]:
        return {**self.option_defaults, **options}


class OneClass(GoodData):
    def load(self, **options: Any) -> DatasetSource:
        source = super().load(**options)
        return replace(source, class_names=["everything"],
                       examples=[replace(e, label=0) for e in source.examples])


class LabelOutOfRange(GoodData):
    def load(self, **options: Any) -> DatasetSource:
        source = super().load(**options)
        return replace(source, examples=[replace(e, label=e.label + 1) for e in source.examples])


class SplitsWithoutOfficialSplit(GoodData):
    def load(self, **options: Any) -> DatasetSource:
        source = super().load(**options)
        return replace(source, examples=[replace(e, split="train") for e in source.examples])


class NegativeSkipped(GoodData):
    def load(self, **options: Any) -> DatasetSource:
        return replace(super().load(**options), skipped=-1)


_loads = itertools.count()


class ChangingFingerprint(GoodData):
    def load(self, **options: Any) -> DatasetSource:
        return replace(super().load(**options), fingerprint=f"load-{next(_loads)}")


class FloatArrays(GoodData):
    def load(self, **options: Any) -> DatasetSource:
        source = super().load(**options)
        return replace(source, examples=[
            replace(e, image=e.image.astype(np.float32)) if isinstance(e.image, np.ndarray) else e
            for e in source.examples])


class CorruptBytes(GoodData):
    def load(self, **options: Any) -> DatasetSource:
        source = super().load(**options)
        return replace(source, examples=[
            replace(e, image=b"not an image") if isinstance(e.image, bytes) else e
            for e in source.examples])


@hookimpl
def register_datasets(register: Any) -> None:
    register("good-data", GoodData())


class TestGoodData(DatasetContract):
    factory = GoodData()
    options = {"per_class": 6}
    registered_name = "good-data"


class TestDuckData(DatasetContract):
    factory = DuckData()  # type: ignore[assignment]


class TestForgetsDefaults(DatasetContract):
    factory = ForgetsDefaults()


class TestAcceptsAnything(DatasetContract):
    factory = AcceptsAnything()


class TestRegisteredUnderAnotherName(DatasetContract):
    factory = GoodData()
    registered_name = "bad-data"


class TestOneClass(DatasetContract):
    factory = OneClass()


class TestLabelOutOfRange(DatasetContract):
    factory = LabelOutOfRange()


class TestSplitsWithoutOfficialSplit(DatasetContract):
    factory = SplitsWithoutOfficialSplit()


class TestNegativeSkipped(DatasetContract):
    factory = NegativeSkipped()


class TestChangingFingerprint(DatasetContract):
    factory = ChangingFingerprint()


class MisDescribed(GoodData):
    def describe(self, **options: Any) -> DatasetSummary:
        return DatasetSummary(2, {None: 1000}, None)  # a plan would price 1,000 examples


class TestMisDescribed(DatasetContract):
    factory = MisDescribed()


class TestFloatArrays(DatasetContract):
    factory = FloatArrays()


class TestCorruptBytes(DatasetContract):
    factory = CorruptBytes()
