"""Run identities must not depend on what else a process built before."""

from __future__ import annotations

import pytest

from blockbench.engine import Engine, Task
from blockbench.plugins import get_components
from blockbench.split import SplitConfig
from tests.engine_fixtures import components


@pytest.mark.tf
@pytest.mark.slow
def test_same_backbone_gets_same_hashes_after_other_builds():
    registry = components()
    for name in ("mobilenet-v3-small", "efficientnet-b0"):
        registry.backbones.add(name, get_components().backbones.get(name).factory)
    registry.partitions.add("delimiter", get_components().partitions.get("delimiter").factory)

    def setup(backbone: str):
        return Engine(registry).setup(Task(backbone=backbone, dataset="blobs", split=SplitConfig(),
                                           weights="none", input_size=32))

    first = setup("mobilenet-v3-small")
    setup("efficientnet-b0")  # other models with unnamed layers, built in between
    second = setup("mobilenet-v3-small")
    assert first.partition.digest == second.partition.digest
    assert first.spec("block:3", 0).run_hash == second.spec("block:3", 0).run_hash
