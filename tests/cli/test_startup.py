"""``blockbench --help`` and ``blockbench list`` start fast and never import TensorFlow.

Each check runs the CLI in a fresh interpreter (this test process may have
imported TensorFlow already) with an import spy that records who first
imports a heavy package, so a failure names the culprit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

HEAVY = ("tensorflow", "keras", "tf_keras", "tensorflow_datasets", "torch", "jax", "ray")

_CHILD = r"""
import importlib.abc, json, sys, traceback
heavy, out, runs = set(sys.argv[1].split(",")), sys.argv[2], json.loads(sys.argv[3])
first, current = {}, ["import"]

class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        root = name.split(".")[0]
        if root in heavy and root not in first:
            frames = [f for f in traceback.extract_stack()[:-1]
                      if not f.filename.startswith("<frozen")]
            stack = "".join(traceback.format_list(frames[-8:]))
            first[root] = f"during `blockbench {' '.join(current)}`:\n{stack}"
        return None

sys.meta_path.insert(0, Spy())
from blockbench.cli.main import cli
codes = []
for args in runs:
    current[:] = args
    try:
        cli.main(args, prog_name="blockbench", standalone_mode=False)
        codes.append(0)
    except SystemExit as exc:
        codes.append(exc.code or 0)
with open(out, "w") as handle:
    json.dump({"codes": codes, "heavy": first, "commands": sorted(cli.commands)}, handle)
"""


def run_cli(tmp_path: Path, *runs: list[str]) -> dict:
    """Run ``blockbench ARGS`` for each list of arguments, in one fresh interpreter."""
    out = tmp_path / "result.json"
    env = {**os.environ, "COLUMNS": "200"}
    subprocess.run([sys.executable, "-c", _CHILD, ",".join(HEAVY), str(out), json.dumps(runs)],
                   check=True, capture_output=True, text=True, timeout=120, env=env)
    return json.loads(out.read_text())


def no_heavy_imports(result: dict) -> None:
    culprits = "\n".join(f"{pkg} first imported from:\n{stack}"
                         for pkg, stack in result["heavy"].items())
    assert not result["heavy"], culprits


@pytest.mark.parametrize("args", [["--help"], ["list"], ["list", "--format", "json"],
                                  ["--version"]], ids=" ".join)
def test_help_and_list_never_import_tensorflow(tmp_path: Path, args: list[str]) -> None:
    result = run_cli(tmp_path, args)
    assert result["codes"] == [0]
    no_heavy_imports(result)


def test_no_command_help_imports_tensorflow(tmp_path: Path) -> None:
    commands = run_cli(tmp_path, ["--help"])["commands"]
    assert "list" in commands
    result = run_cli(tmp_path, *([command, "--help"] for command in commands))
    assert result["codes"] == [0] * len(commands)
    no_heavy_imports(result)


def test_startup_is_well_under_a_second_smoke(record_property: Callable[[str, object], None]) -> None:
    """A loose smoke bound; the real target (well under 1 s) belongs in a benchmark."""
    timings: list[float] = []
    while len(timings) < 5 and min(timings, default=9.9) > 1.0:  # retry only on a busy machine
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "blockbench", "--help"], check=True,
                       capture_output=True, timeout=60)
        timings.append(time.perf_counter() - start)
    best = min(timings)
    record_property("startup_seconds", round(best, 3))
    print(f"blockbench --help: {best:.3f} s (tries: {', '.join(f'{t:.3f}' for t in timings)})")
    assert best < 2.0
