"""``compare --dry-run``: what a compare would train and what it would cost, without training.

For every backbone x dataset the plan builds the backbone's structure (no
weights are downloaded: an ImageNet backbone is built with random weights,
whose layers are the same), cuts it with the partition, sizes the dataset
(:mod:`blockbench.data.shape`), asks each policy how many evaluations its
search makes, and prices every run still to train with the FLOP model of the
cut network (:mod:`blockbench.train.flops`): forward and backward passes of
the engine's protocol, the optimizer's updates, and each cut's prefix once.
GPU-hours divide those FLOPs by a stated sustained throughput.

Runs already in the store cost nothing. They are matched on everything that
identifies a run (the Keras backend this process would train on included)
except the partition digest, which for a few backbones
depends on the weights the plan does not download (Keras adds layers only
with ImageNet weights); where the dataset's fingerprint needs its data, on
everything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from blockbench.components.backbone import Weights
from blockbench.components.partition import Partition, build_partition
from blockbench.components.policy import SearchSpace
from blockbench.core.backends import check_backend
from blockbench.core.records import RunRecord
from blockbench.core.spec import RunSpec, canonical_json
from blockbench.core.task import Task
from blockbench.core.task_settings import complete_hparams
from blockbench.data.preprocessing import resolve_preprocessing
from blockbench.data.shape import DataShape, dataset_shape
from blockbench.plugin.registry import Components
from blockbench.search.compare import (
    BASELINES,
    PolicyRequest,
    is_multi_seed,
    make_policy,
    planned_evaluations,
)
from blockbench.train.engine import build_backbone
from blockbench.train.flops import NetFlops, target_flops

#: Sustained training throughput the GPU-hours assume, in TFLOP/s (``--assume-tflops``).
DEFAULT_TFLOPS = 20.0


@dataclass(frozen=True)
class PlanRow:
    """One backbone x dataset of a plan.

    Attributes:
        backbone: the backbone, with its options.
        dataset: the dataset, with its options.
        input_size: image side in pixels.
        partition: the partition strategy.
        blocks: blocks the partition cuts.
        data: the dataset's classes and split sizes.
        seeds: seeds planned.
        runs: runs planned over all seeds (baselines included).
        stored: of them, runs already in the store.
        flops: FLOPs of the runs still to train.
        bound: the run count is the most the policies' budgets allow (they adapt).
        mflops_per_image: forward MFLOPs of the backbone per image.
    """

    backbone: str
    dataset: str
    input_size: int
    partition: str
    blocks: int
    data: DataShape
    seeds: int
    runs: int
    stored: int
    flops: float
    bound: bool
    mflops_per_image: float

    @property
    def to_train(self) -> int:
        return self.runs - self.stored


@dataclass
class Plan:
    """What a compare would do, priced; rows in the compare's order."""

    rows: list[PlanRow] = field(default_factory=list)
    tflops: float = DEFAULT_TFLOPS

    def gpu_hours(self, flops: float) -> float:
        return flops / (self.tflops * 1e12) / 3600

    @property
    def totals(self) -> dict[str, float]:
        flops = sum(r.flops for r in self.rows)
        return {"runs": sum(r.runs for r in self.rows), "stored": sum(r.stored for r in self.rows),
                "to_train": sum(r.to_train for r in self.rows), "flops": flops,
                "gpu_hours": self.gpu_hours(flops)}

    def to_dict(self) -> dict[str, Any]:
        rows = [{
            "backbone": r.backbone, "dataset": r.dataset, "input_size": r.input_size,
            "partition": r.partition, "blocks": r.blocks, "n_classes": r.data.n_classes,
            "split_sizes": dict(zip(("train", "val", "test"), r.data.sizes, strict=True)),
            "split_sizes_exact": r.data.exact, "data_note": r.data.note, "seeds": r.seeds,
            "runs": r.runs, "stored": r.stored, "to_train": r.to_train, "runs_bound": r.bound,
            "backbone_mflops_per_image": round(r.mflops_per_image, 1), "flops": r.flops,
            "gpu_hours": self.gpu_hours(r.flops)} for r in self.rows]
        return {"assumed_tflops": self.tflops, "rows": rows, "totals": self.totals}


class _Stored:
    """Finished runs, looked up by their identity less the fields a plan cannot know."""

    def __init__(self, records: Sequence[RunRecord]) -> None:
        self.specs = [r.spec.to_dict() for r in records]
        self._keys: dict[tuple[str, ...], set[str]] = {}

    def has(self, spec: RunSpec, unknown: tuple[str, ...]) -> bool:
        if unknown not in self._keys:
            self._keys[unknown] = {_key(s, unknown) for s in self.specs}
        return _key(spec.to_dict(), unknown) in self._keys[unknown]


def _key(spec: Mapping[str, Any], unknown: tuple[str, ...]) -> str:
    return canonical_json({k: v for k, v in spec.items() if k not in unknown})


def plan_compare(tasks: Sequence[Task], requests: Sequence[PolicyRequest], seeds: Sequence[int],
                 components: Components, finished: Sequence[RunRecord] = (),
                 tflops: float = DEFAULT_TFLOPS) -> Plan:
    """Price every task's runs (tasks and policies already checked, as by ``check_compare``)."""
    plan = Plan(tflops=tflops)
    backend = check_backend()
    stored = _Stored(finished)
    models: dict[tuple[Any, ...], Any] = {}
    shapes: dict[tuple[Any, ...], DataShape] = {}
    for task in tasks:
        bb = components.backbones.get(task.backbone)
        ds = components.datasets.get(task.dataset)
        pt = components.partitions.get(task.partition)
        size = int(task.input_size or bb.factory.default_input_size)
        options = bb.factory.check_options(dict(task.backbone_options))
        weights = Weights.parse(task.weights)
        hparams = complete_hparams(task.hparams)
        structure = Weights.parse("none") if weights.kind == "imagenet" else weights
        bkey = (bb.name, canonical_json(options), structure.identity, size, hparams["precision"])
        if bkey not in models:
            models[bkey] = build_backbone(bb.factory, structure, size, options, hparams["precision"])
        model = models[bkey]
        ds_options = ds.factory.check_options(dict(task.dataset_options))
        dkey = (ds.name, canonical_json(ds_options), canonical_json(task.split.identity()),
                task.split.kind)
        if dkey not in shapes:
            shapes[dkey] = dataset_shape(ds.name, ds.factory, ds_options, task.split)
        shape = shapes[dkey]
        partition = build_partition(pt.name, pt.factory, model,
                                    pt.factory.check_options(dict(task.partition_params)))
        net = NetFlops.of(model, int(hparams["dense_units"]), shape.n_classes, str(hparams["head"]))
        template = RunSpec(
            backbone=bb.name, backbone_options=options, weights=weights.identity, input_size=size,
            preprocessing=resolve_preprocessing(bb.factory, task.preprocessing), dataset=ds.name,
            dataset_fingerprint=shape.fingerprint or "", split=shape.split_identity,
            partition=partition.strategy, partition_params=dict(partition.params),
            partition_digest=partition.digest, target="block:0", seed=0, hparams=hparams,
            backend=backend)
        unknown = ("partition_digest",) + (() if shape.fingerprint else ("dataset_fingerprint",))
        plan.rows.append(_price(task, bb.name, ds.name, size, partition, shape, net,
                                hparams, requests, seeds, components, stored, template, unknown))
    return plan


def _price(task: Task, backbone: str, dataset: str, size: int, partition: Partition,
           shape: DataShape, net: NetFlops, hparams: Mapping[str, Any],
           requests: Sequence[PolicyRequest], seeds: Sequence[int], components: Components,
           stored: _Stored, template: RunSpec, unknown: tuple[str, ...]) -> PlanRow:
    """Count and price one task's runs over ``seeds``."""
    n_blocks = len(partition)
    space = SearchSpace(tuple(b.quarter for b in partition.blocks),
                        tuple(b.trainable_params for b in partition.blocks))
    epochs, batch = int(hparams["epochs"]), int(hparams["batch_size"])
    planned = []
    for r in requests:
        policy = make_policy(components.policies.get(r.name), r.options, None)
        count = planned_evaluations(policy, space, r.budget, epochs, len(seeds))
        # A multi-seed policy's runs spread over the seeds (BL1 is among them).
        planned.append(-(-count // max(len(seeds), 1)) if is_multi_seed(policy) else count)
    every_block = any(p >= n_blocks for p in planned)
    some = 0 if every_block else min(n_blocks, sum(planned))

    def flops(target: str, first_time: bool) -> float:
        return target_flops(net, partition, target, partition.total_trainable_params, epochs,
                            shape.sizes, batch, pays_prefix=first_time)

    block_targets = [f"block:{i}" for i in range(n_blocks)]
    mean_block = sum(flops(t, False) for t in block_targets) / max(n_blocks, 1)
    runs = stored_count = 0
    total = 0.0
    paid: set[str] = set()
    for seed in seeds:
        targets = [*BASELINES, *(block_targets if every_block else [])]
        for target in targets:
            runs += 1
            spec = replace(template, target=target, seed=int(seed))
            if stored.has(spec, unknown):
                stored_count += 1
                continue
            total += flops(target, target not in paid)
            paid.add(target)
        if some:
            found = sum(stored.has(replace(template, target=t, seed=int(seed)),
                                   unknown) for t in block_targets)
            runs += some
            stored_count += min(found, some)
            total += (some - min(found, some)) * mean_block
    return PlanRow(backbone=_label(backbone, task.backbone_options),
                   dataset=_label(dataset, task.dataset_options), input_size=size,
                   partition=partition.strategy, blocks=n_blocks, data=shape, seeds=len(seeds),
                   runs=runs, stored=stored_count, flops=total, bound=bool(some),
                   mflops_per_image=net.total / 1e6)


def _label(name: str, options: Mapping[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in sorted(options.items()))
    return f"{name} ({text})" if text else name
