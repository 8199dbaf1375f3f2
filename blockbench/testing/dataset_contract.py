"""``DatasetContract``: the checks every dataset factory must pass."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pytest

from blockbench.components.dataset import (
    SPLITS,
    DatasetFactory,
    DatasetSource,
    DatasetSummary,
    Example,
)
from blockbench.testing.option_checks import (
    assert_completes_defaults,
    assert_unknown_option_is_refused,
)
from blockbench.testing.probe import check_registration


class DatasetContract:
    """Subclass as ``class TestMyData(DatasetContract)`` to check a dataset factory.

    Set ``factory = MyData()`` (or override the ``dataset_factory`` fixture) and,
    for a large dataset, ``options`` that keep ``load()`` small. The suite loads
    twice per class (once for the checks, once more to compare identities).

    Attributes:
        factory: the factory instance under test.
        options: dataset options to load with.
        plugin_module: the module your entry point names; None means the factory's module.
        registered_name: the name the plugin registers the factory under (checked if set).
        images_checked: how many examples the image checks decode.
        describes_loaded_data: whether :meth:`~DatasetFactory.describe` describes
            the data these ``options`` load (False where the suite loads stand-in
            data, e.g. TFDS's mock data, while the description is the real dataset's).
    """

    factory: ClassVar[DatasetFactory | None] = None
    options: ClassVar[Mapping[str, Any]] = {}
    plugin_module: ClassVar[str | None] = None
    registered_name: ClassVar[str | None] = None
    images_checked: ClassVar[int] = 32
    describes_loaded_data: ClassVar[bool] = True

    @pytest.fixture(scope="class")
    @classmethod
    def dataset_factory(cls) -> DatasetFactory:
        if cls.factory is None:
            pytest.fail(f"{cls.__name__}: set `factory = YourDataset()` "
                        "or override the dataset_factory fixture", pytrace=False)
        return cls.factory

    @pytest.fixture(scope="class")
    @classmethod
    def loaded(cls, dataset_factory: DatasetFactory) -> tuple[DatasetSource, list[Example]]:
        """The source of one load, with its examples materialised (they may be one-shot)."""
        source = dataset_factory.load(**dataset_factory.check_options(dict(cls.options)))
        return source, list(source.examples)

    @pytest.fixture(scope="class")
    @classmethod
    def image_sample(cls, loaded: tuple[DatasetSource, list[Example]]) -> list[Example]:
        examples = loaded[1]
        step = max(1, len(examples) // cls.images_checked)
        return examples[::step][: cls.images_checked]

    def test_factory_is_a_dataset_factory(self, dataset_factory: Any) -> None:
        assert isinstance(dataset_factory, DatasetFactory), (
            f"{dataset_factory!r} is not a blockbench.components.dataset.DatasetFactory instance"
        )

    def test_check_options_completes_defaults(self, dataset_factory: DatasetFactory) -> None:
        assert_completes_defaults(dataset_factory.check_options,
                                  dataset_factory.option_defaults, self.options)

    def test_unknown_option_is_a_usage_error(self, dataset_factory: DatasetFactory) -> None:
        assert_unknown_option_is_refused(dataset_factory.check_options, self.options)

    def test_registration_is_cheap_and_tensorflow_free(self, dataset_factory: Any) -> None:
        check_registration("dataset", dataset_factory, self.plugin_module, self.registered_name)

    def test_load_returns_a_dataset_source(self, loaded: tuple[Any, list[Any]]) -> None:
        source, examples = loaded
        assert isinstance(source, DatasetSource), f"load() returned {type(source)}"
        names = source.class_names
        assert len(names) >= 2, f"a dataset needs at least 2 classes, got {names!r}"
        assert all(isinstance(n, str) and n for n in names), f"class names {names!r}"
        assert len(set(names)) == len(names), f"duplicate class names in {names!r}"
        assert examples, "load() returned no examples"
        wrong = [type(e).__name__ for e in examples if not isinstance(e, Example)]
        assert not wrong, f"examples must be blockbench.components.dataset.Example, got {wrong[:3]}"
        bad = [e.ref for e in examples if not isinstance(e.image, bytes | np.ndarray)]
        assert not bad, f"images must be encoded bytes or uint8 arrays: {bad[:3]}"

    def test_labels_are_in_range(self, loaded: tuple[DatasetSource, list[Example]]) -> None:
        source, examples = loaded
        n = len(source.class_names)
        bad = [(e.ref, e.label) for e in examples
               if isinstance(e.label, bool) or not isinstance(e.label, int | np.integer)
               or not 0 <= e.label < n]
        assert not bad, f"labels must be ints in [0, {n}): {bad[:5]}"
        assert len({int(e.label) for e in examples}) >= 2, "all examples have the same label"

    def test_splits_are_consistent(self, loaded: tuple[DatasetSource, list[Example]]) -> None:
        source, examples = loaded
        splits = Counter(e.split for e in examples)
        if source.has_official_split:
            assert set(splits) <= set(SPLITS), f"splits {dict(splits)}; valid: {SPLITS}"
        else:
            assert set(splits) == {None}, (
                f"has_official_split is False but examples carry splits {dict(splits)}"
            )

    def test_skipped_and_notes_are_well_formed(self, loaded: tuple[DatasetSource, Any]) -> None:
        source = loaded[0]
        assert isinstance(source.skipped, int) and source.skipped >= 0, f"{source.skipped=}"
        assert all(isinstance(n, str) for n in source.notes), "notes must be strings"

    def test_fingerprint_is_stable(self, dataset_factory: DatasetFactory,
                                   loaded: tuple[DatasetSource, list[Example]]) -> None:
        source, examples = loaded
        assert isinstance(source.fingerprint, str) and source.fingerprint.strip(), (
            "the fingerprint must be a non-empty string identifying the content"
        )
        again = dataset_factory.load(**dataset_factory.check_options(dict(self.options)))
        assert again.fingerprint == source.fingerprint, (
            f"two loads gave fingerprints {source.fingerprint!r} and {again.fingerprint!r}"
        )
        labels = Counter(int(e.label) for e in examples)
        assert Counter(int(e.label) for e in again.examples) == labels, (
            "two loads with the same fingerprint gave different examples"
        )

    def test_array_images_are_uint8_rgb(self, image_sample: list[Example]) -> None:
        arrays = [(e.ref, e.image) for e in image_sample if isinstance(e.image, np.ndarray)]
        if not arrays:
            pytest.skip("this dataset yields encoded images only")
        bad = [(ref, image.dtype, image.shape) for ref, image in arrays
               if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3
               or min(image.shape[:2]) < 1]
        assert not bad, f"decoded images must be uint8 HxWx3 arrays: {bad[:3]}"

    @pytest.mark.tf
    def test_encoded_images_decode(self, image_sample: list[Example]) -> None:
        encoded = [e for e in image_sample if isinstance(e.image, bytes)]
        if not encoded:
            pytest.skip("this dataset yields decoded arrays only")
        import tensorflow as tf

        failures = []
        for e in encoded:
            try:
                image = tf.io.decode_image(e.image, channels=3, expand_animations=False)
                if min(image.shape[:2]) < 1:
                    failures.append(f"{e.ref or '?'}: empty image")
            except Exception as exc:  # the check reports every undecodable image at once
                failures.append(f"{e.ref or '?'}: {type(exc).__name__}")
        assert not failures, f"undecodable images: {failures[:5]}"

    def test_describe_agrees_with_load(self, dataset_factory: DatasetFactory,
                                       loaded: tuple[DatasetSource, list[Example]]) -> None:
        """A description (what ``compare --dry-run`` plans with) tells what ``load`` gives."""
        summary = dataset_factory.describe(**dataset_factory.check_options(dict(self.options)))
        if summary is None:
            pytest.skip("this dataset does not describe itself; a plan loads it")
        assert isinstance(summary, DatasetSummary), f"describe() returned {type(summary)}"
        source, examples = loaded
        assert summary.n_classes == len(source.class_names), (
            f"describe() says {summary.n_classes} classes, load() gives {len(source.class_names)}")
        if summary.fingerprint is not None:
            assert summary.fingerprint == source.fingerprint, (
                f"describe() fingerprint {summary.fingerprint!r}, load() {source.fingerprint!r}")
        splits = Counter(e.split for e in examples)
        assert all(isinstance(v, int) and v > 0 for v in summary.examples.values()), (
            f"describe() example counts must be positive ints: {dict(summary.examples)}")
        if self.describes_loaded_data:
            assert dict(summary.examples) == dict(splits), (
                f"describe() counts {dict(summary.examples)}, load() gives {dict(splits)}")
