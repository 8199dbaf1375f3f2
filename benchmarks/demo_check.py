"""Check the demo's science with a minimal, independent implementation of the protocol.

For every training seed and every target (BL1, BL2, each demo-cnn block), build
demo-cnn with the given weights, attach the reference head (Flatten -> Dense 512
relu -> Dropout 0.5 -> Dense softmax), train with Adam (lr 1e-3), categorical
cross-entropy, batch 24, 10 epochs on the stratified 70/20/10 split of the demo
dataset, and report validation and test accuracy of the last epoch. A block run
trains that block and the head; every other backbone layer is frozen
(``trainable = False``, so its BatchNormalization runs in inference mode). BL1
trains the head only, BL2 everything. Bopt is the block with the best
validation accuracy of each seed. Not part of the package; run it as::

    python benchmarks/demo_check.py --weights shipped --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from blockbench_plugins import demo, demo_data

from blockbench.core.task import SplitConfig
from blockbench.data.split import make_split


def run(target: str, seed: int, init: list[np.ndarray] | None, data: dict[str, tuple],
        n_classes: int) -> dict:
    import keras

    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    backbone = demo.build_demo_cnn(demo_data.IMAGE_SIZE)
    if init is not None:
        backbone.set_weights(init)
    for layer in backbone.layers:
        if target == "bl1":
            layer.trainable = False
        elif target.startswith("block:"):
            layer.trainable = layer.name.startswith(f"stage{int(target[6:]) + 1}_")
    x = keras.layers.Flatten()(backbone.output)
    x = keras.layers.Dense(512, activation="relu")(x)
    x = keras.layers.Dropout(0.5)(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
    model = keras.Model(backbone.input, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(*data["train"], batch_size=24, epochs=10, shuffle=True, verbose=0,
                        validation_data=data["val"])
    val = model.evaluate(*data["val"], batch_size=256, verbose=0)[1]
    test = model.evaluate(*data["test"], batch_size=256, verbose=0)[1]
    return {"target": target, "seed": seed, "val": float(val), "test": float(test),
            "seconds": time.perf_counter() - start,
            "train_acc": [round(a, 3) for a in history.history["accuracy"]],
            "val_acc": [round(a, 3) for a in history.history["val_accuracy"]]}


def sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(rows: list[dict], n_blocks: int) -> None:
    targets = ["bl1", "bl2", *[f"block:{i}" for i in range(n_blocks)]]
    seeds = sorted({r["seed"] for r in rows})
    by = {(r["target"], r["seed"]): r for r in rows}
    print(f"{'target':10} {'val mean±sd':>14} {'test mean±sd':>14} {'s/run':>6}")
    for t in targets:
        vals = [by[t, s]["val"] for s in seeds]
        tests = [by[t, s]["test"] for s in seeds]
        secs = [by[t, s]["seconds"] for s in seeds]
        print(f"{t:10} {statistics.mean(vals):.3f}±{sd(vals):.3f}   "
              f"{statistics.mean(tests):.3f}±{sd(tests):.3f}  {statistics.mean(secs):5.1f}")
    picks = []
    for s in seeds:
        best = max(range(n_blocks), key=lambda i: (by[f"block:{i}", s]["val"], -i))
        picks.append((best, by[f"block:{best}", s]["test"]))
    tests = [p[1] for p in picks]
    vals = [by[f"block:{p[0]}", s]["val"] for p, s in zip(picks, seeds, strict=True)]
    print(f"Bopt val {statistics.mean(vals):.3f}±{sd(vals):.3f}")
    print(f"Bopt picks {[p[0] for p in picks]}, test {statistics.mean(tests):.3f}±{sd(tests):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="shipped", help="'shipped', 'none' or a weights file")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-per-class", type=int, default=demo.N_PER_CLASS)
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--targets", nargs="*", default=None)
    parser.add_argument("--jsonl", type=Path, default=None, help="append one line per run here")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    source = demo.DemoDataset().load(n_per_class=args.n_per_class, seed=args.data_seed)
    labels = np.array([e.label for e in source.examples])
    x = np.stack([e.image for e in source.examples]).astype("float32") / 255.0  # "unit"
    y = keras.utils.to_categorical(labels, len(source.class_names))
    split = make_split(labels, SplitConfig(seed=args.split_seed), class_names=source.class_names)
    data = {k: (x[v], y[v]) for k, v in split.items()}
    init = None
    if args.weights != "none":
        model = demo.build_demo_cnn(demo_data.IMAGE_SIZE)
        if args.weights == "shipped":
            with demo.shipped_weights() as path:
                demo.load_weights(model, path)
        else:
            demo.load_weights(model, args.weights)
        init = model.get_weights()
    n_blocks = len(demo.STAGES)
    targets = args.targets or ["bl1", "bl2", *[f"block:{i}" for i in range(n_blocks)]]
    rows = []
    for seed in args.seeds:
        for target in targets:
            row = run(target, seed, init, data, len(source.class_names))
            row["weights"] = args.weights
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.jsonl:
                with args.jsonl.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
    if args.targets is None:
        summarise(rows, n_blocks)


if __name__ == "__main__":
    main()
