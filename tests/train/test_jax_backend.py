"""The engine on JAX: where TensorFlow cannot be imported, and the backend-neutral tests rerun.

The test process runs Keras on TensorFlow (tests/conftest.py), and Keras picks
its backend once per process, so every JAX check here runs a fresh interpreter
with ``KERAS_BACKEND=jax``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")

REPO = Path(__file__).resolve().parents[2]

#: Backend-neutral tests, rerun under JAX by the last test here: the engine's equivalences
#: (cached, uncached, naive and Keras fit; float32 and mixed precision), gradient-rank, and
#: the backbone contract over every built-in backbone.
ON_EVERY_BACKEND = {
    "engine": ["tests/train/test_cached_equivalence.py", "tests/train/test_engine.py",
               "tests/train/test_runtime.py", "tests/train/test_activations.py",
               "tests/plugins/test_gradient_rank.py"],
    "backbones": ["tests/plugins/test_contracts.py", "-k", "Backbone"],
}

#: Runs the CLI with ``import tensorflow`` (and anything under it) failing.
_NO_TENSORFLOW = r"""
import importlib.abc, json, sys

class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
        return None

sys.meta_path.insert(0, NoTensorFlow())
from blockbench.cli.main import cli
code = 0
try:
    cli.main(sys.argv[2:], prog_name="blockbench", standalone_mode=True)
except SystemExit as exc:
    code = exc.code or 0
with open(sys.argv[1], "w") as handle:
    json.dump({"code": code, "tensorflow": sorted(m for m in sys.modules
                                                  if m.split(".")[0] == "tensorflow")}, handle)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "KERAS_BACKEND": "jax", "COLUMNS": "200", "JAX_PLATFORMS": "cpu"}


def _without_tensorflow(tmp_path: Path, *args: str) -> tuple[dict, subprocess.CompletedProcess]:
    out = tmp_path / "child.json"
    done = subprocess.run([sys.executable, "-c", _NO_TENSORFLOW, str(out), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600, env=_env())
    assert out.exists(), done.stderr[-3000:]
    return json.loads(out.read_text()), done


def _image_folder(root: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, colour in enumerate(((200, 40, 40), (40, 200, 40), (40, 40, 200))):
        folder = root / f"class{c}"
        folder.mkdir(parents=True)
        for i in range(12):
            pixels = np.clip(rng.normal(colour, 30, size=(40, 48, 3)), 0, 255).astype(np.uint8)
            suffix = ".png" if i % 2 else ".jpg"
            Image.fromarray(pixels).save(folder / f"{i}{suffix}")
    return root


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_a_jax_compare_runs_where_tensorflow_cannot_be_imported(tmp_path):
    images = _image_folder(tmp_path / "images")
    for dataset, extra in (("demo", []), (str(images), ["--input-size", "32"])):
        out = tmp_path / f"out-{len(extra)}"
        child, done = _without_tensorflow(
            tmp_path, "compare", "-b", "demo-cnn", "-d", dataset, *extra, "--seeds", "1",
            "--epochs", "2", "--policy", "exhaustive", "--out", str(out), "--quiet")
        assert child["code"] == 0, done.stderr[-3000:]
        assert child["tensorflow"] == []
        records = _records(out)
        assert records and all(r["status"] == "ok" for r in records), records[0].get("error")
        assert {r["spec"]["backend"] for r in records} == {"jax"}
        assert all(r["backend_version"].startswith("jax ") for r in records)


@pytest.mark.slow
def test_a_tfds_dataset_without_tensorflow_says_so_in_one_line(tmp_path):
    child, done = _without_tensorflow(tmp_path, "compare", "-b", "demo-cnn", "-d",
                                      "oxford-flowers102", "--seeds", "1", "--epochs", "1",
                                      "--out", str(tmp_path / "out"), "--quiet")
    assert child["code"] != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr[-3000:]
    assert "needs TensorFlow" in lines[0] and "oxford_flowers102" in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("group", sorted(ON_EVERY_BACKEND))
def test_the_backend_neutral_tests_pass_on_jax(group):
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         *ON_EVERY_BACKEND[group]], cwd=REPO, capture_output=True, text=True, timeout=1500,
        env=_env())
    tail = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 0, tail
    assert " passed" in done.stdout.splitlines()[-1], tail


#: Trains tiny-net's targets with each epoch loop of the JAX step module, in one process.
_LOOPS = r"""
import json, os, sys
import numpy as np
from blockbench.core.task import SplitConfig, Task
from blockbench.train.engine import Engine
from tests.engine_fixtures import components

task = Task(backbone="tiny-net", dataset="blobs", split=SplitConfig(), partition="by-stage",
            weights="none", hparams={"epochs": 2, "batch_size": 8, "dense_units": 16})
out = {}
for loop in ("steps", "scan"):
    os.environ["BLOCKBENCH_JAX_EPOCH"] = loop
    problem = Engine(components(), mode="cached").setup(task)
    for target in ("bl1", "block:1", "bl2"):
        r = problem.train(problem.spec(target, seed=3))
        out[f"{loop} {target}"] = [r.status, r.error, r.val_correct, r.test_correct,
                                   [h["loss"] for h in r.history], r.test_loss]
json.dump(out, open(sys.argv[1], "w"))
"""


@pytest.mark.slow
def test_an_epoch_as_one_scan_trains_as_one_call_per_batch(tmp_path):
    # Accelerators run an epoch as one lax.scan; this CPU, one call per batch. Same training.
    out = tmp_path / "loops.json"
    done = subprocess.run([sys.executable, "-c", _LOOPS, str(out)], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env=_env())
    assert done.returncode == 0, done.stderr[-3000:]
    runs = json.loads(out.read_text())
    for target in ("bl1", "block:1", "bl2"):
        steps, scan = runs[f"steps {target}"], runs[f"scan {target}"]
        assert steps[0] == scan[0] == "ok", (steps[1], scan[1])
        assert steps[2:4] == scan[2:4]  # the same examples right, on validation and test
        np.testing.assert_allclose(steps[4], scan[4], rtol=1e-5)
        np.testing.assert_allclose(steps[5], scan[5], rtol=1e-5)
