"""Pretrain demo-cnn on the synthetic *source* task and save the backbone's weights.

This is how ``blockbench_plugins/data/demo_cnn.weights.h5`` was made::

    python -m blockbench_plugins.pretrain_demo --out plugins/blockbench_plugins/data/demo_cnn.weights.h5

The source task is classifying the ten :data:`~blockbench_plugins.demo_data.SOURCE_SHAPES`
(the ``demo`` dataset uses six other shapes). The backbone gets a temporary
head (Flatten -> Dropout -> Dense softmax), trains with Adam under a fixed seed
and TensorFlow's deterministic ops, and only the backbone's weights are saved.
The script prints the held-out source accuracy and the file's sha256; on the
same machine and library versions a rerun gives the same file. See docs/demo.md.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from blockbench_plugins import demo_data

DEFAULTS = {"n_per_class": 600, "val_per_class": 100, "epochs": 12, "batch_size": 64,
            "learning_rate": 1e-3, "weight_decay": 0.0, "seed": 0}


@dataclass(frozen=True)
class PretrainResult:
    """What a pretraining run produced.

    Attributes:
        path: the saved weights file.
        sha256: its digest.
        train_accuracy: source accuracy on the training images after the last epoch.
        val_accuracy: source accuracy on held-out source images.
        seconds: wall time of data generation plus training.
    """

    path: Path
    sha256: str
    train_accuracy: float
    val_accuracy: float
    seconds: float


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pretrain(out: Path, *, n_per_class: int = DEFAULTS["n_per_class"],
             val_per_class: int = DEFAULTS["val_per_class"], epochs: int = DEFAULTS["epochs"],
             batch_size: int = DEFAULTS["batch_size"],
             learning_rate: float = DEFAULTS["learning_rate"],
             weight_decay: float = DEFAULTS["weight_decay"], seed: int = DEFAULTS["seed"],
             verbose: int = 2) -> PretrainResult:
    """Train demo-cnn plus a temporary head on the source task; save the backbone to ``out``."""
    import keras
    import numpy as np
    import tensorflow as tf

    from blockbench_plugins.demo import build_demo_cnn

    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    task = demo_data.make_task("source", n_per_class + val_per_class, seed=seed)
    held_out = np.arange(len(task.labels)) % (n_per_class + val_per_class) >= n_per_class
    x = task.images.astype("float32") / 255.0  # the "unit" preprocessing demo-cnn declares
    y = keras.utils.to_categorical(task.labels, len(task.class_names))

    backbone = build_demo_cnn(demo_data.IMAGE_SIZE)
    features = keras.layers.Flatten()(backbone.output)
    features = keras.layers.Dropout(0.3)(features)
    outputs = keras.layers.Dense(len(task.class_names), activation="softmax")(features)
    model = keras.Model(backbone.input, outputs)
    optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    model.compile(optimizer=optimizer,
                  loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[~held_out], y[~held_out], batch_size=batch_size, epochs=epochs, shuffle=True,
              validation_data=(x[held_out], y[held_out]), verbose=verbose)
    _, train_acc = model.evaluate(x[~held_out], y[~held_out], batch_size=256, verbose=0)
    _, val_acc = model.evaluate(x[held_out], y[held_out], batch_size=256, verbose=0)

    out.parent.mkdir(parents=True, exist_ok=True)
    backbone.save_weights(str(out))
    return PretrainResult(out, file_sha256(out), float(train_acc), float(val_acc),
                          time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="weights file to write (*.weights.h5)")
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    if not args.out.name.endswith(".weights.h5"):
        parser.error(f"--out {str(args.out)!r} must end in .weights.h5 (Keras requires it)")
    options = {name: getattr(args, name) for name in DEFAULTS}
    result = pretrain(args.out, **options)
    print(f"source accuracy: train {result.train_accuracy:.4f}, held-out {result.val_accuracy:.4f}")
    print(f"wrote {result.path} ({result.path.stat().st_size} bytes) in {result.seconds:.0f} s")
    print(f"sha256 {result.sha256}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
