"""``blockbench compare --executor ray`` as users run it: the command starts a local Ray
instance, the workers find a plugin installed like any other, and the driver alone fills the
SQLite store; a missing Ray is one line naming the extra."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli
from tests.factories import hide_module
from tests.tiny_plugin import blockbench_cmd, plugin_env

TINY = ["compare", "-b", "tiny-net", "-d", "blobs", "-p", "by-stage", "--weights", "none",
        "--epochs", "1", "--hparam", "batch_size=8", "--hparam", "dense_units=8", "--seeds", "2",
        "--format", "json"]


def test_a_missing_ray_is_one_line_naming_the_extra_and_leaves_nothing(tmp_path, monkeypatch):
    hide_module(monkeypatch, "ray")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["compare", "--executor", "ray", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        "Error: --executor ray needs Ray, which is not installed: pip install 'blockbench[ray]'"]
    assert not out.exists()


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.ray
def test_compare_on_ray_fills_the_drivers_sqlite_store_and_reuses_it(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed: pip install 'blockbench[ray]'")
    env = plugin_env(tmp_path / "site")
    store = tmp_path / "shared" / "runs.db"
    args = [*TINY, "--executor", "ray", "--ray-workers", "2", "--storage", f"sqlite:///{store}",
            "--out", str(tmp_path / "out")]
    first = subprocess.run(blockbench_cmd(*args), env=env, cwd=tmp_path, capture_output=True,
                           text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "runs train on Ray, up to 2 workers of 1 CPU each" in first.stderr
    assert "8 runs: 8 trained, 0 reused from cache, 0 failed" in first.stderr
    board = json.loads(first.stdout)
    assert board["meta"]["runs_ok"] == 8

    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT status, attempts, worker FROM blockbench_runs").fetchall()
    assert sorted(rows) == [("ok", 1, None)] * 8

    again = subprocess.run(blockbench_cmd(*args), env=env, cwd=tmp_path, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "8 runs: 0 trained, 8 reused from cache, 0 failed" in again.stderr
    reused = json.loads(again.stdout)
    del reused["meta"]["generated_at"], board["meta"]["generated_at"]
    assert reused == board
    assert (Path(tmp_path / "out") / "runs.jsonl").read_text().count("\n") == 8
