"""example-stripes passes the dataset contract, and its images are what they claim."""

from __future__ import annotations

import re

import numpy as np
import pytest
from blockbench_example.stripes import ORIENTATIONS, Stripes, stripes_image

from blockbench.errors import UsageError
from blockbench.testing import DatasetContract


class TestStripes(DatasetContract):
    factory = Stripes()
    options = {"per_class": 6, "size": 32}
    plugin_module = "blockbench_example.plugin"
    registered_name = "example-stripes"


def test_other_seeds_are_other_datasets() -> None:
    a = Stripes().load(per_class=2, size=16, seed=0)
    b = Stripes().load(per_class=2, size=16, seed=1)
    assert a.fingerprint != b.fingerprint


def test_classes_are_balanced_and_sized() -> None:
    source = Stripes().load(per_class=5, size=24, seed=0)
    labels = [e.label for e in source.examples]
    assert np.bincount(labels).tolist() == [5] * len(ORIENTATIONS)
    assert {e.image.shape for e in source.examples} == {(24, 24, 3)}


@pytest.mark.parametrize(("angle", "flat_axis"), [(90.0, 1), (0.0, 0)])
def test_stripes_vary_across_and_not_along(angle: float, flat_axis: int) -> None:
    # Horizontal stripes (angle 90) are nearly constant along a row (axis 1).
    image = stripes_image(np.random.default_rng(3), angle, 64).astype(float).mean(axis=2)
    along = np.abs(np.diff(image, axis=flat_axis)).mean()
    across = np.abs(np.diff(image, axis=1 - flat_axis)).mean()
    assert along < across


@pytest.mark.parametrize("options", [{"per_class": 1}, {"size": 4}, {"seed": -1},
                                     {"per_class": "many"}, {"size": True}])
def test_bad_options_are_one_line_usage_errors(options: dict[str, object]) -> None:
    key, value = next(iter(options.items()))
    with pytest.raises(UsageError, match=re.escape(f"{key}={value!r}")) as info:
        Stripes().check_options(options)
    assert "\n" not in str(info.value)
