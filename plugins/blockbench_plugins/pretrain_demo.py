"""Pretrain demo-cnn on the synthetic *source* task and save the backbone's weights.

This is how ``blockbench_plugins/data/demo_cnn.weights.h5`` was made::

    python -m blockbench_plugins.pretrain_demo --out plugins/blockbench_plugins/data/demo_cnn.weights.h5

Source task: name which of ten shapes an image shows, the shape turned by any
angle (``demo_data.TASKS["source"]``; the ``demo`` dataset uses other shapes and
asks for their orientation). 1,000 training and 100 held-out images per class
are generated with seed 0. The backbone gets a temporary head (Flatten ->
Dropout 0.3 -> Dense softmax) and trains for 12 epochs with AdamW (learning
rate 1e-3 decayed to 0 on a cosine, decoupled weight decay 8 on the conv and
dense kernels, batch 64) under a fixed seed and TensorFlow's deterministic ops;
only the backbone's weights are saved. The script prints the source accuracy
and the file's sha256; on the same machine and library versions a rerun writes
the same bytes. docs/demo.md records the numbers and why these settings.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from blockbench_plugins import demo_data
from blockbench_plugins.demo import build_demo_cnn

DEFAULTS: dict[str, int | float] = {
    "n_per_class": 1000, "val_per_class": 100, "epochs": 12, "batch_size": 64,
    "learning_rate": 1e-3, "weight_decay": 8.0, "seed": 0,
}


@dataclass(frozen=True)
class PretrainResult:
    """What a pretraining run produced.

    Attributes:
        path: the saved weights file.
        sha256: its digest.
        train_accuracy: source accuracy on the training images after the last epoch.
        val_accuracy: source accuracy on the held-out source images.
        seconds: wall time of data generation plus training.
    """

    path: Path
    sha256: str
    train_accuracy: float
    val_accuracy: float
    seconds: float


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pretrain(out: Path, *, n_per_class: int = 1000, val_per_class: int = 100, epochs: int = 12,
             batch_size: int = 64, learning_rate: float = 1e-3, weight_decay: float = 8.0,
             seed: int = 0, verbose: int = 2) -> PretrainResult:
    """Train demo-cnn plus a temporary head on the source task; save the backbone to ``out``."""
    import keras
    import numpy as np
    import tensorflow as tf

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
    steps = epochs * -(-int((~held_out).sum()) // batch_size)
    # Decaying to zero ends on settled weights, so the BatchNorm statistics saved with
    # them describe them: a frozen block runs on exactly these statistics.
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[~held_out], y[~held_out], batch_size=batch_size, epochs=epochs, shuffle=True,
              validation_data=(x[held_out], y[held_out]), verbose=verbose)
    _, train_acc = model.evaluate(x[~held_out], y[~held_out], batch_size=256, verbose=0)
    _, val_acc = model.evaluate(x[held_out], y[held_out], batch_size=256, verbose=0)

    out.parent.mkdir(parents=True, exist_ok=True)
    backbone.save_weights(str(out))
    return PretrainResult(out, file_sha256(out), float(train_acc), float(val_acc),
                          time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="weights file to write (*.weights.h5)")
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value,
                            help=f"default {value}")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch log")
    args = parser.parse_args(argv)
    if not args.out.name.endswith(".weights.h5"):
        parser.error(f"--out {str(args.out)!r} must end in .weights.h5 (Keras requires it)")
    options = {name: getattr(args, name) for name in DEFAULTS}
    result = pretrain(args.out, verbose=0 if args.quiet else 2, **options)  # type: ignore[arg-type]
    print(f"source accuracy: train {result.train_accuracy:.4f}, held-out {result.val_accuracy:.4f}")
    print(f"wrote {result.path} ({result.path.stat().st_size} bytes) in {result.seconds:.0f} s")
    print(f"sha256 {result.sha256}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
