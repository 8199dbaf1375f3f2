"""How the engine feeds each run: cached activations when worth it, else the images."""

from __future__ import annotations

import pytest

from blockbench.core.errors import UsageError
from blockbench.core.task import SplitConfig, Task
from blockbench.core.task_settings import complete_hparams
from blockbench.train.engine import Engine
from tests.engine_fixtures import components

HP = {"epochs": 1, "batch_size": 8, "dense_units": 8}


def _task() -> Task:
    return Task(backbone="tiny-net", dataset="blobs", split=SplitConfig(), partition="by-stage",
                weights="none", hparams=HP)


def _feed_key(problem, target: str):
    from blockbench.data.preprocessing import preprocess
    from blockbench.train.loop import RunInputs

    inputs = RunInputs(problem.finetune, problem.data, [], lambda x: preprocess(x, "unit"))
    return problem.runtime.feed(problem, problem.spec(target, seed=0), inputs).key


@pytest.mark.tf
def test_only_runs_with_a_frozen_prefix_train_from_the_cache():
    problem = Engine(components()).setup(_task())
    assert _feed_key(problem, "bl1") == ("cut", None)
    assert _feed_key(problem, "block:1") == ("cut", "conv1")
    assert _feed_key(problem, "block:0") == ("images", "unit")  # empty prefix: nothing to save
    assert _feed_key(problem, "bl2") == ("images", "unit")
    uncached = Engine(components(), mode="uncached").setup(_task())
    assert _feed_key(uncached, "bl1") == ("images", "unit")


@pytest.mark.tf
def test_over_the_budget_a_run_trains_the_whole_network_with_the_same_result():
    small = Engine(components(), cache_bytes=0).setup(_task())
    assert _feed_key(small, "block:1") == ("images", "unit")
    big = Engine(components()).setup(_task())
    a, b = (p.train(p.spec("block:1", seed=0)) for p in (small, big))
    assert a.ok and (a.val_acc, a.test_acc) == (b.val_acc, b.test_acc)


def test_mode_and_budget_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("BLOCKBENCH_ENGINE_MODE", "uncached")
    monkeypatch.setenv("BLOCKBENCH_CACHE_BYTES", "512M")
    runtime = Engine(components()).runtime
    assert (runtime.mode, runtime.cache_bytes) == ("uncached", 512 << 20)
    assert Engine(components(), mode="cached").runtime.mode == "cached"
    monkeypatch.setenv("BLOCKBENCH_CACHE_BYTES", "lots")
    with pytest.raises(UsageError, match="BLOCKBENCH_CACHE_BYTES='lots' is not a size"):
        Engine(components())


def test_bad_mode_and_precision_are_one_line_errors():
    with pytest.raises(UsageError, match="engine mode 'fast' is not valid; use one of cached"):
        Engine(components(), mode="fast")
    with pytest.raises(UsageError, match='precision = "float64" is not valid; use one of float32'):
        complete_hparams({"precision": "float64"})
    with pytest.raises(UsageError, match='xla = "yes" is not valid; use true or false'):
        complete_hparams({"xla": "yes"})
