"""The Keras backend on the command line: an unsupported one stops before Keras is imported, and a
worker never trains a study queued under another backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli
from blockbench.core import backends
from blockbench.core.task import SplitConfig, Task
from blockbench.search.compare import PolicyRequest
from blockbench.search.queue import RUN_JOB, StudyDefinition, WorkQueue
from blockbench.store.run_store import Store

_CHILD = r"""
import json, sys
from blockbench.cli.main import cli
try:
    cli.main(sys.argv[1:], prog_name="blockbench")
except SystemExit as exc:
    code = exc.code
heavy = [m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules]
print(json.dumps({"code": code, "heavy": heavy}))
"""


def blockbench(backend: str, *args: str) -> tuple[dict, str]:
    """``blockbench ARGS`` under ``KERAS_BACKEND=backend`` in a fresh interpreter: its exit code
    and the heavy packages it imported, and its stderr."""
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True,
                          timeout=120, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.mark.parametrize("command", ["compare", "worker"])
def test_torch_stops_compare_and_worker_in_one_line_before_keras(tmp_path: Path, command: str):
    args = (["compare", "--out", str(tmp_path / "out")] if command == "compare" else
            ["worker", "--storage", f"sqlite:///{tmp_path / 'q.db'}", "--study", "s"])
    result, stderr = blockbench("torch", *args)
    assert result == {"code": 2, "heavy": []}
    assert stderr == ("Error: Keras backend 'torch' (KERAS_BACKEND) is not supported yet; "
                      "use tensorflow or jax\n")
    assert list(tmp_path.iterdir()) == []  # no results directory, no store


def test_an_unknown_backend_is_named_with_the_valid_ones(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "keras", raising=False)  # as in a fresh process
    monkeypatch.setenv("KERAS_BACKEND", "numpy")
    result = CliRunner().invoke(cli, ["compare", "--dry-run", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert ("Keras backend 'numpy' (KERAS_BACKEND) is not supported by blockbench; "
            "use tensorflow or jax") in result.output
    assert not (tmp_path / "out").exists()


def make_study(url: str, backend: str, jobs: int) -> None:
    task = Task("demo-cnn", "demo", SplitConfig(), weights="none")
    with Store(url) as store:
        queue = WorkQueue(store)
        queue.create_study("s1", StudyDefinition([task], [PolicyRequest("exhaustive")], [0],
                                                 backend=backend))
        for number in range(jobs):
            queue.enqueue("s1", RUN_JOB, f"run:{number}", {"task": 0, "seed": 0, "target": "bl1"})


def test_a_worker_on_another_backend_refuses_the_study_and_leaves_its_jobs(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    make_study(url, "jax", jobs=2)
    monkeypatch.setattr(backends, "keras_backend_name", lambda: "tensorflow")
    result = CliRunner().invoke(cli, ["worker", "--storage", url, "--study", "s1", "--poll", "0.1"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert ("study 's1' trains on the Keras backend 'jax', but this worker runs 'tensorflow'; "
            "start it with KERAS_BACKEND=jax") in result.output
    with Store(url) as store:
        assert WorkQueue(store).counts("s1") == {"queued": 2}  # left to the workers that can
