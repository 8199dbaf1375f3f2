"""The backbone contract's checks: input size, options, pretrained weights, and the 0.1 form."""

from __future__ import annotations

from typing import Any

import pytest

from blockbench.components.backbone import BackboneFactory, Weights, check_weights
from blockbench.core.errors import UsageError
from blockbench.core.task import SplitConfig, Task
from blockbench.train.engine import Engine
from tests.engine_fixtures import TinyNet, components


class Untrained(TinyNet):
    """A backbone with no pretrained weights of any kind."""

    has_pretrained_weights = False


def test_input_size_is_checked_on_its_own() -> None:
    net = TinyNet()
    net.check_input_size(8)
    with pytest.raises(UsageError, match="input size 7 is below this backbone's minimum of 8"):
        net.check_input_size(7)
    with pytest.raises(UsageError, match="input size '16' must be a whole number"):
        net.check_input_size("16")  # type: ignore[arg-type]
    assert net.check_options({}) == {"nan_block": False}


def test_imagenet_is_refused_at_once_for_a_backbone_without_pretrained_weights() -> None:
    check_weights("tiny-net", TinyNet(), Weights.parse("imagenet"))  # it has some
    check_weights("untrained", Untrained(), Weights.parse("none"))
    with pytest.raises(UsageError) as info:
        check_weights("untrained", Untrained(), Weights.parse("imagenet"))
    assert str(info.value) == ("backbone 'untrained' has no pretrained weights; use weights "
                               "'none' (random initialisation) or a weights file")


def test_engine_check_refuses_imagenet_before_building_anything() -> None:
    registered = components()
    registered.backbones.add("untrained", Untrained())
    engine = Engine(registered)
    task = Task(backbone="untrained", dataset="blobs", partition="by-stage", split=SplitConfig())
    with pytest.raises(UsageError, match="backbone 'untrained' has no pretrained weights"):
        engine.check(task)
    engine.check(Task(backbone="untrained", dataset="blobs", partition="by-stage",
                      split=SplitConfig(), weights="none"))


def test_engine_check_names_the_component_of_a_bad_option() -> None:
    engine = Engine(components())
    bad = {"backbone_options": {"nan_blok": True}, "dataset_options": {"n": 3},
           "partition_params": {"k": 2}}
    expected = {"backbone_options": "unknown option(s) nan_blok for backbone 'tiny-net'",
                "dataset_options": "unknown option(s) n for dataset 'blobs'",
                "partition_params": "unknown option(s) k for partition 'by-stage'; valid: none."}
    for field, options in bad.items():
        task = Task(backbone="tiny-net", dataset="blobs", partition="by-stage",
                    split=SplitConfig(), **{field: options})
        with pytest.raises(UsageError, match=expected[field].replace("(", r"\(").replace(")", r"\)")):
            engine.check(task)


def test_a_backbone_written_for_the_0_1_signature_still_works_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match=r"Old.check_options\(input_size, options\) is "
                                                "deprecated"):
        class Old(BackboneFactory):
            min_input_size = 16
            option_defaults = {"width": 1}

            def check_options(self, input_size: int, options: Any) -> dict[str, Any]:
                checked = super().check_options(input_size, options)
                if input_size % 2:
                    raise UsageError(f"input size {input_size} must be even")
                return checked

            def build(self, weights: Weights, input_size: int, **options: Any) -> Any:
                raise NotImplementedError

    old = Old()
    assert isinstance(old, BackboneFactory)
    assert old.check_options({"width": 2}) == {"width": 2}
    with pytest.raises(UsageError, match="unknown backbone option"):
        old.check_options({"depth": 2})
    old.check_input_size(32)
    with pytest.raises(UsageError, match="below this backbone's minimum of 16"):
        old.check_input_size(8)
    with pytest.raises(UsageError, match="must be even"):
        old.check_input_size(33)
