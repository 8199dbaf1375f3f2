"""Run identities must not depend on what else a process built before."""

from __future__ import annotations

import pytest

from blockbench.core.task import SplitConfig, Task
from blockbench.plugin.manager import get_components
from blockbench.train.engine import Engine
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


@pytest.mark.tf
@pytest.mark.slow
def test_random_initialisation_is_the_same_in_every_process():
    """weights=none must give one fixed initialisation, or cached runs would mix several."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import hashlib, numpy as np\n"
        "from blockbench.core.task import Task\nfrom blockbench.train.engine import Engine\n"
        "from blockbench.plugin.manager import get_components\n"
        "from blockbench.core.task import SplitConfig\n"
        "from tests.engine_fixtures import components\n"
        "registry = components()\n"
        "registry.backbones.add('mobilenet-v3-small', "
        "get_components().backbones.get('mobilenet-v3-small').factory)\n"
        "registry.partitions.add('delimiter', get_components().partitions.get('delimiter').factory)\n"
        "import keras; keras.utils.set_random_seed(int(__import__('sys').argv[1]))\n"
        "p = Engine(registry).setup(Task(backbone='mobilenet-v3-small', dataset='blobs', "
        "split=SplitConfig(), weights='none', input_size=32))\n"
        "w = p.finetune.backbone.get_weights()\n"
        "print(hashlib.sha256(b''.join(np.asarray(a).tobytes() for a in w)).hexdigest())\n"
    )
    digests = {
        subprocess.run([sys.executable, "-c", code, str(seed)], capture_output=True, text=True,
                       check=True, cwd=Path(__file__).resolve().parents[2]).stdout.strip()
        for seed in (1, 2)
    }
    assert len(digests) == 1
