"""How well the dry run's FLOP model predicts measured training time: the model against a table.

``compare --dry-run`` prices runs in FLOPs (:mod:`blockbench.train.flops`) and
converts them to hours at an assumed throughput. This script checks the model
on runs that were really trained: for every run record of a results
directory it computes the FLOPs the plan would charge (the cut's prefix on
the first seed of each invocation, as the engine computes it then) and sets
them beside the run's measured ``wall_seconds``. It prints the sustained
throughput per kind of run (BL1, BL2, blocks by quarter) and the correlation
of predicted FLOPs with seconds across runs: how far one throughput number
can be trusted for a plan. Builds the backbone once, with random weights (the
structure is what counts); trains nothing. Run it as::

    python benchmarks/flop_model_check.py leaderboards/tables/mobilenet-a025-flowers5-128 \\
        --out leaderboards/benchmarks/flop_model.md
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from blockbench.components.backbone import Weights
from blockbench.components.partition import build_partition
from blockbench.core.spec import parse_target
from blockbench.plugin.manager import get_components
from blockbench.store.listing import load_results
from blockbench.train.engine import build_backbone
from blockbench.train.flops import NetFlops, target_flops


def predicted(records: list[Any]) -> list[tuple[Any, float]]:
    """(record, FLOPs the plan charges for it), for every ok record."""
    components = get_components()
    models: dict[Any, Any] = {}
    partitions: dict[Any, Any] = {}
    nets: dict[Any, NetFlops] = {}
    first_seed: dict[Any, int] = {}
    for r in records:
        key = (r.spec.partition, r.spec.target)
        first_seed[key] = min(first_seed.get(key, r.spec.seed), r.spec.seed)
    out = []
    for r in records:
        spec = r.spec
        bb = components.backbones.get(spec.backbone)
        options = bb.factory.check_options(dict(spec.backbone_options))
        mkey = (spec.backbone, tuple(sorted(options.items())), spec.input_size)
        if mkey not in models:
            models[mkey] = build_backbone(bb.factory, Weights.parse("none"), spec.input_size, options)
        model = models[mkey]
        strategy = spec.partition or "delimiter"  # baselines: any partition prices them alike
        pkey = (mkey, strategy, str(sorted(spec.partition_params.items())))
        if pkey not in partitions:
            entry = components.partitions.get(strategy)
            partitions[pkey] = build_partition(entry.name, entry.factory, model,
                                               entry.factory.check_options(dict(spec.partition_params)))
        partition = partitions[pkey]
        units, head = int(spec.hparams["dense_units"]), str(spec.hparams["head"])
        nkey = (mkey, spec.dataset_fingerprint, units, head)
        if nkey not in nets:  # one walk of the graph per backbone and head, not per run
            nets[nkey] = NetFlops.of(model, units, _classes(records, spec, model, units, head), head)
        net = nets[nkey]
        first = spec.seed == first_seed[(spec.partition, spec.target)]
        flops = target_flops(net, partition, spec.target, partition.total_trainable_params,
                             int(spec.hparams["epochs"]), (r.n_train, r.n_val, r.n_test),
                             int(spec.hparams["batch_size"]), pays_prefix=first)
        out.append((r, flops))
    return out


def _classes(records: list[Any], spec: Any, model: Any, units: int, head: str) -> int:
    """The table's classes, from its BL1 run: it trains the head alone, whose size they fix.

    BL1 trains ``F * U + U + U * C + C`` parameters (``F`` features, ``U`` dense units).
    """
    features = math.prod(int(d) for d in model.outputs[0].shape[1:])
    if head == "gap":
        features = int(model.outputs[0].shape[-1])
    bl1 = next(r for r in records if r.spec.target == "bl1"
               and r.spec.dataset_fingerprint == spec.dataset_fingerprint)
    return (bl1.trainable_params - features * units - units) // (units + 1)


def kind_of(record: Any) -> str:
    _, index = parse_target(record.spec.target)
    if index is None:
        return record.spec.target.upper()
    return f"block, Q{record.block['quarter']}" if record.block else "block"


def report(pairs: list[tuple[Any, float]], source: str) -> str:
    groups: dict[str, list[tuple[Any, float]]] = defaultdict(list)
    for r, f in pairs:
        groups[kind_of(r)].append((r, f))
    lines = [f"# The FLOP model against measured training time ({source})", "",
             "Produced by `python benchmarks/flop_model_check.py "
             f"{source} --out leaderboards/benchmarks/flop_model.md`: the FLOPs "
             "`compare --dry-run` would charge each run (blockbench/train/flops.py) beside the "
             "run's measured `wall_seconds` (its record).", "",
             "| runs | n | TFLOP (model) | seconds (measured) | GFLOP/s | seconds per run |",
             "|---|---|---|---|---|---|"]
    for name in sorted(groups, key=lambda k: (k.startswith("block"), k)):
        rows = groups[name]
        flops, seconds = sum(f for _, f in rows), sum(r.wall_seconds for r, _ in rows)
        lines.append(f"| {name} | {len(rows)} | {flops / 1e12:.2f} | {seconds:.0f} | "
                     f"{flops / seconds / 1e9:.1f} | {seconds / len(rows):.1f} |")
    flops, seconds = sum(f for _, f in pairs), sum(r.wall_seconds for r, _ in pairs)
    lines.append(f"| **all** | {len(pairs)} | {flops / 1e12:.2f} | {seconds:.0f} | "
                 f"{flops / seconds / 1e9:.1f} | {seconds / len(pairs):.1f} |")
    xs, ys = [f for _, f in pairs], [r.wall_seconds for r, _ in pairs]
    r_lin = statistics.correlation(xs, ys)
    r_log = statistics.correlation([math.log(x) for x in xs], [math.log(y) for y in ys])
    lines += ["", f"Correlation of predicted FLOPs with measured seconds across the {len(pairs)} "
              f"runs: Pearson r = {r_lin:.3f} (log-log: {r_log:.3f}).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="a results directory 'compare --out' wrote")
    parser.add_argument("--out", help="write the Markdown report here too")
    args = parser.parse_args(argv)
    runs, _ = load_results(args.results)
    ok = [r for r in runs if r.ok and r.wall_seconds]
    text = report(predicted(ok), args.results)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
