"""Synthetic run and search records with controlled accuracies, for the statistics tests.

Accuracies are rounded to multiples of ``1 / n_test``, as a real test set gives them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from blockbench.components.partition import quarter_of
from blockbench.core.record_files import RUNS_FILE, SEARCHES_FILE, write_jsonl
from blockbench.core.records import FAILED, OK, RunRecord, SearchRecord
from blockbench.core.spec import RunSpec, block_target


def make_spec(
    target: str = "bl1",
    seed: int = 0,
    backbone: str = "mobilenet",
    dataset: str = "flowers5",
    partition: str | None = "uniform",
    weights: str = "imagenet",
    input_size: int = 96,
    **changes: Any,
) -> RunSpec:
    """A run identity; baselines drop the partition by themselves (see RunSpec)."""
    return RunSpec(
        backbone=backbone, backbone_options=changes.pop("backbone_options", {}), weights=weights,
        input_size=input_size, preprocessing="imagenet", dataset=dataset,
        dataset_fingerprint=f"fp-{dataset}",
        split={"kind": "stratified", "fractions": [0.7, 0.2, 0.1], "seed": 0},
        partition=partition, partition_params={}, partition_digest=f"digest-{partition}",
        target=target, seed=seed, **changes,
    )


def make_run(
    spec: RunSpec,
    val_acc: float | None,
    test_acc: float | None,
    n_test: int = 200,
    n_blocks: int | None = None,
    status: str = OK,
    error: str | None = None,
) -> RunRecord:
    """A run record; block targets get ``block`` info when ``n_blocks`` is given."""
    block = None
    if spec.block_index is not None and n_blocks is not None:
        index = spec.block_index
        block = {"index": index, "quarter": quarter_of(index, n_blocks), "n_blocks": n_blocks,
                 "first_layer": f"l{index}a", "last_layer": f"l{index}b", "trainable_params": 1000}
    if status != OK:
        val_acc = test_acc = None
        error = error or "RuntimeError: out of memory"
    return RunRecord(spec=spec, status=status, error=error, val_acc=val_acc, test_acc=test_acc,
                     block=block, n_train=700, n_val=200, n_test=n_test, epochs_run=10)


def failed_run(spec: RunSpec, n_blocks: int | None = None) -> RunRecord:
    return make_run(spec, None, None, n_blocks=n_blocks, status=FAILED)


def rising_profile(index: int, n_blocks: int) -> float:
    """Default block accuracy: rises with depth from 0.70 to 0.82 (BL1 0.72, BL2 0.76)."""
    return 0.70 + 0.12 * index / max(n_blocks - 1, 1)


def exhaustive_runs(
    backbones: Sequence[str] = ("mobilenet", "resnet50v2"),
    datasets: Sequence[str] = ("flowers5",),
    seeds: Iterable[int] = (0, 1, 2),
    n_blocks: int = 8,
    bl1: float = 0.72,
    bl2: float = 0.76,
    profile: Callable[[int, int], float] = rising_profile,
    noise: float = 0.01,
    val_noise: float = 0.01,
    n_test: int = 200,
    rng_seed: int = 0,
    partition: str = "uniform",
    **spec_changes: Any,
) -> list[RunRecord]:
    """Every backbone x dataset x seed x (bl1, bl2, block:0..n-1), with Gaussian noise on test
    accuracy (sd ``noise``) and on validation around test (sd ``val_noise``)."""
    rng = np.random.default_rng(rng_seed)

    def acc(value: float) -> float:
        return float(np.clip(round(value * n_test), 0, n_test) / n_test)

    runs = []
    for backbone in backbones:
        for dataset in datasets:
            for seed in seeds:
                targets = [("bl1", bl1), ("bl2", bl2)]
                targets += [(block_target(i), profile(i, n_blocks)) for i in range(n_blocks)]
                for target, mean in targets:
                    spec = make_spec(target, seed, backbone, dataset, partition, **spec_changes)
                    test = acc(mean + rng.normal(0, noise))
                    val = acc(test + rng.normal(0, val_noise))
                    runs.append(make_run(spec, val, test, n_test, n_blocks))
    return runs


def make_search(policy: str, picked: RunRecord | None, seed: int | None = None,
                partition: str = "uniform", **changes: Any) -> SearchRecord:
    """A search whose pick is ``picked`` (None: it picked nothing)."""
    spec = picked.spec if picked else make_spec(seed=seed or 0)
    return SearchRecord(
        policy=policy, backbone=spec.backbone, dataset=spec.dataset, partition=partition,
        seed=spec.seed if seed is None else seed, pick=spec.target if picked else None,
        pick_hash=picked.run_hash if picked else None, runs=5, epochs=50,
        budget=changes.pop("budget", {"runs": 5, "epochs": None}), **changes,
    )


def runs_for(runs: Iterable[RunRecord], **where: Any) -> list[RunRecord]:
    """The runs whose spec matches every ``field=value`` given."""
    return [r for r in runs if all(getattr(r.spec, k) == v for k, v in where.items())]


def write_results(directory: Path, runs: Iterable[RunRecord],
                  searches: Iterable[SearchRecord] = ()) -> Path:
    """Write records as ``compare --out DIR`` does (runs.jsonl, searches.jsonl)."""
    write_jsonl(runs, directory / RUNS_FILE, append=False)
    searches = list(searches)
    if searches:
        write_jsonl(searches, directory / SEARCHES_FILE, append=False)
    return directory


def hide_module(monkeypatch: Any, name: str) -> None:
    """Make ``import name`` (and its submodules) fail as if it were not installed."""
    import builtins
    import sys

    real_import = builtins.__import__

    def hidden(module: str, *args: Any, **kwargs: Any) -> Any:
        if module == name or module.startswith(name + "."):
            raise ImportError(f"No module named '{name}'")
        return real_import(module, *args, **kwargs)

    monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(builtins, "__import__", hidden)


def racing_search(backbone: str = "mobilenet", n_blocks: int = 6) -> SearchRecord:
    """A racing search record with ``info`` as the racing policy writes it: rounds on seeds 0-4;
    blocks 0 and 1 eliminated after round 3, blocks 2 and 3 after round 4; block 5 picked."""
    candidates = [f"block:{i}" for i in range(n_blocks)]
    eliminations = {2: {"block:0": "worse than the leader (Holm p = 0.01)", "block:1": "worse than BL1"},
                    3: {"block:2": "worse than the leader", "block:3": "worse than the leader"}}
    alive = list(candidates)
    rounds = []
    for r, seed in enumerate(range(5)):
        out = eliminations.get(r, {})
        rounds.append({"seed": seed, "survivors": list(alive), "eliminated": out,
                       "friedman_p": None if r < 2 else 0.01, "leader": "block:5"})
        alive = [t for t in alive if t not in out]
    pick = make_run(make_spec("block:5", 0, backbone), 0.8, 0.8, n_blocks=n_blocks)
    info = {"seeds": list(range(5)), "reference": "bl1", "candidates": candidates, "rounds": rounds,
            "stopped": "max seeds", "gain_ucb": 0.03, "min_gain": 0.01}
    return make_search("racing", pick, info=info)
