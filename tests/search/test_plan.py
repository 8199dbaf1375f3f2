"""``compare --dry-run``: the plan of the demo, runs already stored, nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli
from blockbench.core import backends
from blockbench.core.record_files import RUNS_FILE, read_jsonl
from blockbench.core.records import RunRecord

REPO = Path(__file__).resolve().parents[2]
DEMO_RESULTS = REPO / "leaderboards" / "demo" / "results"

pytestmark = pytest.mark.tf


def dry_run(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["compare", "--dry-run", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_demo_plan_counts_every_run_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "never-made"
    plan = dry_run("--out", str(out), "--seeds", "3")
    assert not out.exists()
    (row,) = plan["rows"]
    assert (row["backbone"], row["dataset"], row["partition"]) == ("demo-cnn", "demo", "delimiter")
    assert row["blocks"] == 5 and row["n_classes"] == 6
    assert row["runs"] == 3 * (5 + 2) and row["stored"] == 0 and row["to_train"] == 21
    assert row["split_sizes_exact"] and sum(row["split_sizes"].values()) == 720
    assert row["flops"] > 0 and row["gpu_hours"] == pytest.approx(row["flops"] / 20e12 / 3600)
    assert plan["totals"]["to_train"] == 21


def test_stored_runs_cost_nothing(tmp_path: Path) -> None:
    """The committed demo runs (2 seeds) are found in a copy of its results; seed 2 is not."""
    out = tmp_path / "results"
    out.mkdir()
    shutil.copy(DEMO_RESULTS / RUNS_FILE, out / RUNS_FILE)
    stored = [r for r in read_jsonl(out / RUNS_FILE, RunRecord) if r.ok]
    seeds = {r.spec.seed for r in stored}
    assert seeds == {0, 1}
    fresh = dry_run("--seeds", "1", "--seed-start", "2", "--out", str(tmp_path / "other"))
    plan = dry_run("--seeds", "3", "--out", str(out))
    (row,) = plan["rows"]
    assert row["runs"] == 21 and row["stored"] == len(stored) == 14 and row["to_train"] == 7
    # What is left is one more seed of the same runs, whose prefixes are already paid for.
    assert 0 < row["flops"] <= fresh["rows"][0]["flops"]
    assert sorted(p.name for p in out.iterdir()) == [RUNS_FILE]  # read, never written


def test_tensorflow_runs_are_not_done_for_a_jax_plan(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "results"
    out.mkdir()
    shutil.copy(DEMO_RESULTS / RUNS_FILE, out / RUNS_FILE)
    monkeypatch.setattr(backends, "keras_backend_name", lambda: "jax")
    (row,) = dry_run("--seeds", "2", "--out", str(out))["rows"]
    assert row["runs"] == 14 and row["stored"] == 0 and row["to_train"] == 14


def test_an_adaptive_policy_is_a_bound(tmp_path: Path) -> None:
    plan = dry_run("--policy", "random", "--policy-option", "random.k=2", "--seeds", "2",
                   "--out", str(tmp_path / "r"))
    (row,) = plan["rows"]
    assert row["runs_bound"] and row["runs"] == 2 * (2 + 2)


def test_throughput_assumption_scales_gpu_hours(tmp_path: Path) -> None:
    slow = dry_run("--assume-tflops", "5", "--out", str(tmp_path / "a"))
    fast = dry_run("--assume-tflops", "50", "--out", str(tmp_path / "b"))
    assert slow["totals"]["flops"] == fast["totals"]["flops"]
    assert slow["totals"]["gpu_hours"] == pytest.approx(10 * fast["totals"]["gpu_hours"])


def test_table_output_names_the_assumption(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["compare", "--dry-run", "--out", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    assert "nothing trained" in result.stdout and "20 TFLOP/s" in result.stdout
    assert "total" in result.stdout


@pytest.mark.slow
def test_reference_preset_plan_is_offline_and_complete(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole study's plan: 15 backbones x 2 datasets, every block, 5 seeds, no network."""
    import socket

    from blockbench.core.presets import PRESETS, RECOMMENDED_SEEDS, REFERENCE_BACKBONES

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access in a dry run")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.chdir(tmp_path)
    plan = dry_run("--preset", "reference")
    preset = PRESETS["reference"]
    assert len(plan["rows"]) == len(REFERENCE_BACKBONES) * 2 == 30
    assert {r["dataset"] for r in plan["rows"]} == set(preset["dataset"])
    assert [r["backbone"] for r in plan["rows"][::2]] == list(REFERENCE_BACKBONES)
    for row in plan["rows"]:
        assert row["input_size"] == 224 and row["partition"] == "delimiter"
        assert row["n_classes"] == 102 and row["seeds"] == RECOMMENDED_SEEDS
        assert row["runs"] == RECOMMENDED_SEEDS * (row["blocks"] + 2) and not row["runs_bound"]
        assert row["gpu_hours"] > 0
    flowers = next(r for r in plan["rows"] if r["dataset"] == "oxford-flowers102")
    assert sum(flowers["split_sizes"].values()) == 1020 + 1020 + 6149
    assert plan["totals"]["runs"] == sum(r["runs"] for r in plan["rows"])
    assert not (tmp_path / "leaderboards").exists()  # nothing written
    assert not (tmp_path / "keras" / "models").exists()  # no weights fetched
