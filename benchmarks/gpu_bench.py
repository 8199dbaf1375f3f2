"""The engine on an accelerator under JAX: the demo, a MobileNet exhaustive search, and naive fit.

Runs in one process, under ``KERAS_BACKEND=jax`` (set here before Keras is
imported), on whatever device JAX finds first:

1. the offline demo (demo-cnn on the generated dataset, every block, 1 seed);
2. an exhaustive search of MobileNet alpha 0.25 (ImageNet weights) on flowers5 at
   128 px (the delimiter partition's 27 blocks, plus BL1 and BL2), one seed,
   in float32 and then with ``precision=mixed_float16``;
3. naive Keras ``compile`` + ``fit`` (``Engine(mode="keras")``: a fresh model
   per run, the whole network on the images) for a few of the same runs,
   interleaved with the engine's, in the same process.

For every run it records the wall time, the first epoch (tracing and
compilation happen there) against the median later epoch, training images per
second, and the accuracies; per phase, the peak device memory. It writes
``gpu.md`` and ``gpu.json`` to ``--out``. ``benchmarks/gpu_check.sh`` runs it on
the GPU machine (after ``benchmarks/gpu_prepare.sh`` here); on a CPU, small
settings check that it works::

    KERAS_HOME=/tmp/kh python benchmarks/gpu_bench.py --max-per-class 20 --blocks 0,26 \\
        --naive-targets bl1 --out /tmp/gpu
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ["KERAS_BACKEND"] = "jax"

REPO = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("BLOCKBENCH_ASSETS", REPO.parent / "shared" / "assets"))


def device_memory() -> dict[str, int | None]:
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    return {"peak_bytes": stats.get("peak_bytes_in_use"), "in_use_bytes": stats.get("bytes_in_use")}


def timed_run(problem: Any, target: str, seed: int) -> dict[str, Any]:
    """One run, with its epoch boundaries: compile (first epoch's excess) versus training."""
    ends: list[float] = []
    start = time.perf_counter()
    record = problem.train(problem.spec(target, seed),
                           on_epoch=lambda *_: ends.append(time.perf_counter() - start))
    wall = time.perf_counter() - start
    epochs = [b - a for a, b in zip([0.0, *ends], ends, strict=False)]
    steady = statistics.median(epochs[1:]) if len(epochs) > 1 else 0.0
    first_excess = max(0.0, epochs[0] - steady) if epochs else 0.0
    images = record.n_train * len(epochs)
    training = max(wall - first_excess, 1e-9)
    return {"target": target, "status": record.status, "error": record.error,
            "wall_s": round(wall, 3), "first_epoch_s": round(epochs[0], 3) if epochs else None,
            "epoch_s": round(steady, 4), "compile_s": round(first_excess, 3),
            "train_s": round(training, 3), "images_per_s": round(images / training, 1),
            "val_acc": record.val_acc, "test_acc": record.test_acc}


def task(args: argparse.Namespace, precision: str) -> Any:
    from blockbench.core.task import SplitConfig, Task

    options: dict[str, Any] = {"path": str(args.flowers)}
    if args.max_per_class:
        options["max_per_class"] = args.max_per_class
    return Task(backbone="mobilenet", backbone_options={"alpha": 0.25}, dataset="image-folder",
                dataset_options=options, split=SplitConfig(), weights="imagenet",
                input_size=args.input_size, partition="delimiter",
                hparams={"epochs": args.epochs, "precision": precision})


def exhaustive(components: Any, args: argparse.Namespace, precision: str,
               data_cache: str) -> dict[str, Any]:
    from blockbench.train.engine import Engine

    start = time.perf_counter()
    problem = Engine(components, data_cache, mode="cached").setup(task(args, precision))
    setup = time.perf_counter() - start
    blocks = _blocks(args.blocks, len(problem.partition))
    runs = [timed_run(problem, "bl1", args.seed)]
    search_start = time.perf_counter()
    runs += [timed_run(problem, f"block:{i}", args.seed) for i in blocks]
    search = time.perf_counter() - search_start
    runs.append(timed_run(problem, "bl2", args.seed))
    block_runs = [r for r in runs if r["target"].startswith("block:")]
    return {"precision": precision, "setup_s": round(setup, 2), "blocks": len(blocks),
            "n_blocks": len(problem.partition), "images": len(problem.data.labels),
            "n_train": len(problem.data.indices["train"]),
            "search_s": round(search, 2),
            "search_compile_s": round(sum(r["compile_s"] for r in block_runs), 2),
            "failed": [r["target"] for r in runs if r["status"] != "ok"],
            "memory": device_memory(), "runs": runs}


def naive_side_by_side(components: Any, args: argparse.Namespace, data_cache: str) -> list[dict]:
    """The same runs through the engine (warm) and through naive Keras fit, interleaved."""
    from blockbench.train.engine import Engine

    engine = Engine(components, data_cache, mode="cached").setup(task(args, "float32"))
    naive = Engine(components, data_cache, mode="keras").setup(task(args, "float32"))
    rows = []
    for turn, target in enumerate(args.naive_targets):
        order = [("engine", engine), ("naive", naive)]
        pair = {name: timed_run(problem, target, args.seed)
                for name, problem in (order if turn % 2 == 0 else order[::-1])}
        pair["ratio"] = round(pair["engine"]["wall_s"] / pair["naive"]["wall_s"], 3)
        rows.append(pair)
        print(json.dumps(pair), flush=True)
    return rows


def demo(components: Any, args: argparse.Namespace) -> dict[str, Any]:
    from blockbench.core.task import SplitConfig, Task
    from blockbench.train.engine import Engine

    start = time.perf_counter()
    problem = Engine(components, mode="cached").setup(
        Task(backbone="demo-cnn", dataset="demo", split=SplitConfig(), weights="imagenet",
             partition="delimiter", hparams={"epochs": args.epochs}))
    targets = ["bl1", "bl2", *(f"block:{i}" for i in range(len(problem.partition)))]
    runs = [timed_run(problem, t, args.seed) for t in targets]
    return {"wall_s": round(time.perf_counter() - start, 2), "runs": runs}


def cpu_accuracies(folder: Path, seed: int, epochs: int, partition: str = "delimiter"
                   ) -> dict[str, float]:
    """Test accuracy per target of the committed CPU (TensorFlow) runs at ``seed``, if any."""
    path = folder / "runs.jsonl"
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        spec = record["spec"]
        if (spec["seed"] == seed and spec.get("partition") in (None, partition)
                and record["status"] == "ok"
                and spec["hparams"].get("precision", "float32") == "float32"
                and spec["hparams"].get("epochs") == epochs):
            out[spec["target"]] = record["test_acc"]
    return out


def _blocks(spec: str, n: int) -> list[int]:
    return list(range(n)) if spec == "all" else sorted({int(i) for i in spec.split(",")})


def render(result: dict[str, Any]) -> str:
    env = result["environment"]
    lines = ["# The engine on a GPU under JAX", "", f"Command: `{result['command']}`", "",
             f"Device: {env['device']}; {env['versions']}; Python {env['python']}; host "
             f"{env['host']}, {env['cpus']} CPUs; measured {env['when']}. Total wall time of "
             f"the script: {result['total_s']} s.", "",
             "Compile is the first epoch's excess over the median later epoch: the tracing and XLA "
             "compilation of the run's programs (and, for a run whose frozen prefix is new, "
             "computing its activations) happen in the first epoch; train is the rest of the run. "
             "Images per second count training images times epochs over train time. CPU test acc "
             "is the same target and seed trained on TensorFlow on this project's CPU "
             f"({result.get('cpu_source', {}).get('mobilenet', '-')} for MobileNet, "
             f"{result.get('cpu_source', {}).get('demo', '-')} for the demo); the images there "
             "were decoded by tf.image, here by Pillow, and the backends' random numbers differ, "
             "so they agree within seed noise, not exactly.", ""]
    header = ["| target | wall s | compile s | epoch s | images/s | val acc | test acc | "
              "CPU test acc |", "|---|---|---|---|---|---|---|---|"]
    d = result.get("demo", {"runs": [], "wall_s": None})
    lines += ["## Demo (demo-cnn on the generated dataset, 1 seed)", "",
              f"All {len(d['runs'])} runs in {d['wall_s']} s (setup included).", "", *header]
    lines += [_run_row(r, result.get("cpu", {}).get("demo", {})) for r in d["runs"]] + [""]
    for phase in result.get("exhaustive", []):
        mem = phase["memory"]["peak_bytes"]
        peak = f"{mem / 2**30:.2f} GiB" if mem else "not reported by the device"
        lines += [f"## MobileNet alpha 0.25 on flowers5, 128 px, {phase['precision']}", "",
                  f"{phase['images']} images ({phase['n_train']} train), {phase['blocks']} of "
                  f"{phase['n_blocks']} blocks, 1 seed. Setup (build, weights, decode, "
                  f"partition): {phase['setup_s']} s. **Exhaustive search of the blocks: "
                  f"{phase['search_s']} s**, of which compile {phase['search_compile_s']} s. "
                  f"Peak device memory: {peak}. Failed runs: {phase['failed'] or 'none'}.", "",
                  *header]
        cpu = result.get("cpu", {}).get("mobilenet", {}) if phase["precision"] == "float32" else {}
        lines += [_run_row(r, cpu) for r in phase["runs"]] + [""]
    lines += ["## Engine against naive Keras fit (same runs, interleaved, float32)", "",
              "| target | engine s | naive fit s | engine / naive | engine test acc | naive test acc |",
              "|---|---|---|---|---|---|"]
    for p in result.get("naive", []):
        lines.append(f"| {p['engine']['target']} | {p['engine']['wall_s']} | "
                     f"{p['naive']['wall_s']} | {p['ratio']} | {_acc(p['engine']['test_acc'])} | "
                     f"{_acc(p['naive']['test_acc'])} |")
    if result.get("naive"):
        total_e = sum(p["engine"]["wall_s"] for p in result["naive"])
        total_n = sum(p["naive"]["wall_s"] for p in result["naive"])
        lines += ["", f"Together: engine {total_e:.2f} s, naive {total_n:.2f} s, ratio "
                  f"{total_e / total_n:.3f}.", ""]
    return "\n".join(lines)


def _acc(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _run_row(r: dict[str, Any], cpu: dict[str, float]) -> str:
    status = "" if r["status"] == "ok" else f" (failed: {r['error']})"
    return (f"| {r['target']}{status} | {r['wall_s']} | {r['compile_s']} | {r['epoch_s']} | "
            f"{r['images_per_s']} | {_acc(r['val_acc'])} | {_acc(r['test_acc'])} | "
            f"{_acc(cpu.get(r['target']))} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--flowers", type=Path, default=ASSETS / "flowers5")
    parser.add_argument("--max-per-class", type=int, default=300,
                        help="flowers5 photos per class (300: the CPU tables' sample)")
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blocks", default="all", help="all, or a list such as 0,13,26")
    parser.add_argument("--precision", action="append", choices=["float32", "mixed_float16"])
    parser.add_argument("--naive-targets", nargs="*", default=["bl1", "block:13", "block:26"])
    parser.add_argument("--data-cache", default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    command = "python benchmarks/gpu_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    start = time.perf_counter()

    import jax
    import keras

    from blockbench.core.backends import backend_version
    from blockbench.plugin.manager import get_components

    components = get_components()
    data_cache = args.data_cache or str(args.out / "data-cache")
    result: dict[str, Any] = {"command": command, "environment": {
        "device": str(jax.devices()[0].device_kind), "platform": jax.default_backend(),
        "versions": backend_version(keras.backend.backend()), "python": platform.python_version(),
        "host": platform.node(), "cpus": os.cpu_count(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}}
    args.out.mkdir(parents=True, exist_ok=True)
    sources = {"mobilenet": REPO / "leaderboards" / "tables" / "mobilenet-a025-flowers5-128",
               "demo": REPO / "leaderboards" / "demo" / "results"}
    result["cpu_source"] = {k: str(v.relative_to(REPO)) for k, v in sources.items()}
    result["cpu"] = {k: cpu_accuracies(v, args.seed, args.epochs) for k, v in sources.items()}

    def save() -> None:  # after every phase: a run stopped at its time limit keeps the rest
        result["total_s"] = round(time.perf_counter() - start, 1)
        (args.out / "gpu.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
        (args.out / "gpu.md").write_text(render(result) + "\n")

    result["demo"] = demo(components, args)
    save()
    print(f"demo: {result['demo']['wall_s']} s", flush=True)
    result["exhaustive"] = []
    for precision in args.precision or ["float32", "mixed_float16"]:
        result["exhaustive"].append(exhaustive(components, args, precision, data_cache))
        save()
        print(f"{precision}: search {result['exhaustive'][-1]['search_s']} s", flush=True)
    result["naive"] = naive_side_by_side(components, args, data_cache)
    save()
    print(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
