"""Benchmark blockbench's engine against the naive protocol, side by side in one process.

The naive protocol (``Engine(mode="naive")``) is the reference study's way:
every run builds the backbone again, compiles its training loop, and trains
the whole network on the images for every epoch. The engine
(``Engine(mode="cached")``) trains from cached frozen-prefix activations and
reuses compiled epochs across runs. Both use the same compiled train step, so
for the same seed their accuracies must be identical. With ``--keras`` a
third protocol runs too: plain Keras ``compile`` + ``fit`` on a fresh model
(``Engine(mode="keras")``), whose results agree to floating-point tolerance.

Measured per workload, interleaving the protocols' runs (rotating which goes
first) so that load from other processes on a shared machine hits all alike:
BL1 with cold engine caches (its features computed in the run), BL1 of
another seed (features and compiled epochs reused), one Q4 block run (cold),
and an exhaustive search (every block, or the subset ``--blocks`` picks, in
order; engine caches cleared at its start). Reported: wall times and ratios,
peak RSS during runs, the saving the FLOP count of the frozen-prefix work
makes achievable (``blockbench/train/flops.py``) and how much of it was obtained, and profiles
of what bounds the engine (``profile_engine.py``, TensorFlow only). Each Keras backend
is measured in its own process (Keras picks its backend once per process)::

    python benchmarks/bench_engine.py --out leaderboards/benchmarks
    python benchmarks/bench_engine.py --backend jax --name engine-jax --out leaderboards/benchmarks
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_report.py, profile_engine.py
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


from bench_report import render, summarize
from profile_engine import head_profile, run_breakdown

from blockbench.train.flops import NetFlops, run_flops

REPO = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("BLOCKBENCH_ASSETS", REPO.parent / "shared" / "assets"))


def peak_reset() -> None:
    """Reset the process' peak RSS (Linux); a no-op elsewhere."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def rss() -> int:
    return _status_bytes("VmRSS:")


def peak_rss() -> int:
    return _status_bytes("VmHWM:")


def _status_bytes(field_name: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Run:
    mode: str
    target: str
    seconds: float
    peak: int  # peak RSS of the process during the run
    growth: int  # peak RSS during the run minus RSS before it
    record: Any
    epoch_ends: list[float] = field(default_factory=list)


def measure(problem: Any, mode: str, target: str, seed: int) -> Run:
    epoch_ends: list[float] = []
    peak_reset()
    before = rss()
    start = time.perf_counter()
    record = problem.train(problem.spec(target, seed),
                           on_epoch=lambda *_: epoch_ends.append(time.perf_counter() - start))
    seconds = time.perf_counter() - start
    if not record.ok:
        raise SystemExit(f"{mode} {target} failed: {record.error}")
    return Run(mode, target, seconds, peak_rss(), peak_rss() - before, record, epoch_ends)


def side_by_side(problems: dict[str, Any], target: str, seed: int, turn: int,
                 cold: bool = True) -> dict[str, Run]:
    """Run ``target`` in every protocol, rotating the order; ``cold`` clears engine caches."""
    modes = list(problems)
    out = {}
    for mode in modes[turn % len(modes):] + modes[:turn % len(modes)]:
        if mode == "engine" and cold:
            problems["engine"].runtime.clear()
        out[mode] = measure(problems[mode], mode, target, seed)
    return out


def workload_task(name: str, args: argparse.Namespace) -> Any:
    from blockbench.core.task import SplitConfig, Task

    hparams = {"epochs": args.epochs}
    if name == "demo":
        return Task(backbone="demo-cnn", dataset="demo", split=SplitConfig(),
                    weights=demo_weights(), hparams=hparams)
    options: dict[str, Any] = {"path": str(ASSETS / "flowers5")}
    if args.max_per_class:
        options["max_per_class"] = args.max_per_class
    return Task(backbone="mobilenet", backbone_options={"alpha": 0.25}, dataset="image-folder",
                dataset_options=options, split=SplitConfig(), weights="imagenet",
                input_size=args.input_size, hparams=hparams)


def demo_weights() -> str:
    """The shipped demo-cnn weights ("imagenet"), or "none" while they are not built yet."""
    from blockbench_plugins.demo import shipped_weights

    from blockbench.core.errors import BlockbenchError

    try:
        with shipped_weights():
            return "imagenet"
    except BlockbenchError as exc:
        print(f"note: {exc}; the demo runs with random weights", flush=True)
        return "none"


def pick_blocks(spec: str, n: int) -> list[int]:
    if spec == "all":
        return list(range(n))
    if spec.startswith("every:"):
        return list(range(0, n, int(spec.split(":")[1])))
    return sorted({int(i) for i in spec.split(",")})


def positions(problem: Any, net: NetFlops, target: str) -> tuple[int | None, tuple[int, int] | None]:
    if target == "bl1":
        return None, None
    block = problem.partition.block(int(target.split(":")[1]))
    start = net.names.index(block.first_layer)
    return start, (start, start + len(block.layers))


def flop_pair(problem: Any, net: NetFlops, run: Run, computed_from: int) -> tuple[float, float]:
    """FLOPs of ``run``'s target under the naive protocol and under the engine."""
    rec = run.record
    first, block = positions(problem, net, run.target)
    common = dict(trained_params=rec.trainable_params, epochs=int(rec.spec.hparams["epochs"]),
                  n=(rec.n_train, rec.n_val, rec.n_test),
                  batch_size=int(rec.spec.hparams["batch_size"]))
    return (run_flops(net, first, block, engine=False, **common),
            run_flops(net, first, block, engine=True, computed_from=computed_from, **common))


def bench_workload(name: str, args: argparse.Namespace) -> dict:
    from blockbench.plugin.manager import get_components
    from blockbench.train.engine import Engine

    components = get_components()
    task = workload_task(name, args)
    modes = {"naive": "naive", "engine": "cached", **({"keras": "keras"} if args.keras else {})}
    problems = {label: Engine(components, mode=mode).setup(task) for label, mode in modes.items()}
    problem = problems["engine"]
    net = NetFlops.of(problem.finetune.backbone, int(problem.hparams["dense_units"]),
                      problem.data.n_classes)
    blocks = problem.partition.blocks
    q4 = [b.index for b in blocks if b.quarter == 4]
    q4_target = f"block:{q4[len(q4) // 2]}"
    cache = problem.runtime.activations(problem)
    import keras

    from blockbench.core.backends import backend_version

    result: dict[str, Any] = {"workload": name, "backend": backend_version(keras.backend.backend()),
                              "task": {
        "backbone": task.backbone, "options": dict(task.backbone_options), "weights": task.weights,
        "dataset": task.dataset, "images": len(problem.data.labels),
        "input_size": problem.input_size, "epochs": args.epochs,
        "partition": problem.partition.strategy, "blocks": len(blocks),
        "backbone_mflops_per_image": round(net.total / 1e6, 2), "head_params": net.head_params},
        "activation_budget_mb": round(cache.budget_bytes / 2**20), "rows": []}
    print(f"== {name}: {len(blocks)} blocks, {len(problem.data.labels)} images", flush=True)

    def row(label: str, pairs: list[dict[str, Run]], flops: list[tuple[float, float]]) -> None:
        result["rows"].append(summarize(label, pairs, flops))
        print(json.dumps(result["rows"][-1]), flush=True)

    pairs = [side_by_side(problems, "bl1", args.seed, r) for r in range(args.repeats)]
    row("BL1, first run (features computed)", pairs,
        [flop_pair(problem, net, p["naive"], 0) for p in pairs])
    pairs = [side_by_side(problems, "bl1", args.seed + 1 + r, r, cold=False)
             for r in range(args.repeats)]
    row("BL1, another seed (features reused)", pairs,
        [flop_pair(problem, net, p["naive"], len(net.names)) for p in pairs])
    pairs = [side_by_side(problems, q4_target, args.seed, r) for r in range(args.repeats)]
    row(f"one Q4 block run ({q4_target})", pairs,
        [flop_pair(problem, net, p["naive"], 0) for p in pairs])
    warm = measure(problems["engine"], "engine", q4_target, args.seed)
    result["q4_profile"] = run_breakdown(pairs[-1], warm)

    chosen = pick_blocks(args.blocks, len(blocks))
    problems["engine"].runtime.clear()
    pairs, flops, previous = [], [], 0
    for turn, index in enumerate(chosen):
        pair = side_by_side(problems, f"block:{index}", args.seed, turn, cold=False)
        first = net.names.index(blocks[index].first_layer)
        pairs.append(pair)
        flops.append(flop_pair(problem, net, pair["naive"], previous))
        previous = first if first > 0 else previous
        result.setdefault("per_block", []).append({
            "block": index, "first_layer": blocks[index].first_layer,
            "naive_s": round(pair["naive"].seconds, 2), "engine_s": round(pair["engine"].seconds, 2),
            "ratio": round(pair["engine"].seconds / pair["naive"].seconds, 3),
            "flop_ratio": round(flops[-1][1] / flops[-1][0], 3),
            "val_acc": pair["engine"].record.val_acc})
        print(f"   {json.dumps(result['per_block'][-1])}", flush=True)
    row(f"exhaustive search ({len(chosen)} of {len(blocks)} blocks)", pairs, flops)
    cache = problems["engine"].runtime.activations(problem)  # clear() made a new one
    result["activation_cache_mb"] = round(cache.nbytes / 2**20, 1)
    if not args.skip_profile and keras.backend.backend() == "tensorflow":
        result["head_profile"] = head_profile(problem)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", action="append", choices=["demo", "mobilenet"])
    parser.add_argument("--backend", choices=["tensorflow", "jax"],
                        help="Keras backend (default: $KERAS_BACKEND, else tensorflow)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--blocks", default="all", help="all, every:K or a list such as 0,5,9")
    parser.add_argument("--repeats", type=int, default=2, help="side-by-side pairs of BL1 and Q4")
    parser.add_argument("--input-size", type=int, default=64, help="MobileNet's input size")
    parser.add_argument("--max-per-class", type=int, help="flowers5 images kept per class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keras", action="store_true", help="also run plain Keras compile + fit")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--out", type=Path, help="folder for NAME.md and NAME.json")
    parser.add_argument("--name", default="engine", help="file name of the report")
    args = parser.parse_args(argv)
    if args.backend:  # before anything imports Keras, which reads it once
        os.environ["KERAS_BACKEND"] = args.backend
    workloads = args.workload or ["demo", "mobilenet"]
    command = "python benchmarks/bench_engine.py " + " ".join(argv if argv is not None
                                                               else sys.argv[1:])
    home = Path(tempfile.mkdtemp(prefix="bb-keras-"))
    try:
        if "mobilenet" in workloads:
            _keras_home(home)
        results = [bench_workload(w, args) for w in workloads]
    finally:
        shutil.rmtree(home, ignore_errors=True)
    text = render(results, command)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.name}.md").write_text(text + "\n")
        (args.out / f"{args.name}.json").write_text(json.dumps(
            {"command": command, "results": results}, indent=1, default=str) + "\n")


def _keras_home(home: Path) -> None:
    """Serve the offline MobileNet weights from a temporary KERAS_HOME."""
    import keras.src.backend.config as keras_config

    source = ASSETS / "keras-models" / "mobilenet_2_5_224_tf_no_top.h5"
    if not source.is_file():
        raise SystemExit(f"MobileNet weights not found at {source}; set BLOCKBENCH_ASSETS")
    (home / "models").mkdir(parents=True)
    shutil.copy(source, home / "models")
    os.environ["KERAS_HOME"] = str(home)
    keras_config._KERAS_DIR = str(home)  # Keras reads KERAS_HOME at import


if __name__ == "__main__":
    main()
