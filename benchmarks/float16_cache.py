"""What storing cached activations as float16 would cost in accuracy (it is not an option).

Trains the same cached runs twice with the engine: with the float32
activations it keeps, and with the activations rounded to float16 and back
(what float16 storage, cast back when gathered, would feed the suffix).
MobileNet alpha 0.25 (ImageNet weights) on flowers5, as in
``bench_engine.py``. Run it as::

    python benchmarks/float16_cache.py --out leaderboards/benchmarks
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import _keras_home, workload_task


def rounded(cache: Any) -> None:
    """Make ``cache`` round what it computes to float16 (kept as float32)."""
    import tensorflow as tf

    compute = cache._compute

    def compute_rounded(*args: Any) -> list[Any]:
        return [tf.cast(tf.cast(t, tf.float16), t.dtype) for t in compute(*args)]

    cache._compute = compute_rounded


def main(argv: list[str] | None = None) -> None:
    from blockbench.plugin.manager import get_components
    from blockbench.train.engine import Engine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", default="3,9,15,23", help="block indices to train")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="bb-keras-"))
    _keras_home(home)
    try:
        task = workload_task("mobilenet", argparse.Namespace(
            epochs=args.epochs, max_per_class=None, input_size=args.input_size))
        problems = {name: Engine(get_components()).setup(task) for name in ("float32", "float16")}
        rounded(problems["float16"].runtime.activations(problems["float16"]))
        targets = ["bl1", *(f"block:{i}" for i in args.blocks.split(","))]
        rows = []
        for seed in range(args.seeds):
            for target in targets:
                records = {n: p.train(p.spec(target, seed)) for n, p in problems.items()}
                a, b = records["float32"], records["float16"]
                rows.append({"target": target, "seed": seed,
                             "val_acc": [a.val_acc, b.val_acc], "test_acc": [a.test_acc, b.test_acc],
                             "test_loss": [a.test_loss, b.test_loss]})
                print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    diffs = {k: [abs(r[k][1] - r[k][0]) for r in rows] for k in ("val_acc", "test_acc", "test_loss")}
    summary = {k: {"mean_abs_diff": round(statistics.mean(v), 4), "max_abs_diff": round(max(v), 4)}
               for k, v in diffs.items()}
    summary["runs"] = len(rows)
    summary["identical_test_acc"] = sum(d == 0 for d in diffs["test_acc"])
    command = "python benchmarks/float16_cache.py " + " ".join(argv if argv is not None
                                                               else sys.argv[1:])
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "float16_cache.json").write_text(json.dumps(
            {"command": command, "summary": summary, "runs": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
