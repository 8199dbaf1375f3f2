"""The Keras backend on the command line: an unsupported one stops before Keras is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from blockbench.cli.main import cli

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


def test_torch_stops_compare_in_one_line_before_keras(tmp_path: Path):
    result, stderr = blockbench("torch", "compare", "--out", str(tmp_path / "out"))
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
