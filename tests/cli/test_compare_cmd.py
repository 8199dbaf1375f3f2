"""`blockbench compare` end to end on tiny components, and on real weights and photos."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli
from blockbench.core.records import RunRecord, SearchRecord, read_jsonl
from tests.engine_fixtures import components

TINY = ["compare", "-b", "tiny-net", "-d", "blobs", "-p", "by-stage", "--weights", "none",
        "--epochs", "2", "--hparam", "batch_size=8", "--hparam", "dense_units=16", "--seeds", "2"]


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr("blockbench.plugin.manager.get_components", components)


@pytest.mark.tf
@pytest.mark.slow
def test_compare_runs_baselines_and_blocks_then_reuses_them(tiny, tmp_path):
    out = tmp_path / "results"
    result = CliRunner().invoke(cli, [*TINY, "--out", str(out)])
    assert result.exit_code == 0, result.output
    runs = list(read_jsonl(out / "runs.jsonl", RunRecord))
    assert sorted(r.spec.target for r in runs) == sorted(["bl1", "bl2", "block:0", "block:1"] * 2)
    assert all(r.ok for r in runs)
    searches = list(read_jsonl(out / "searches.jsonl", SearchRecord))
    assert [s.seed for s in searches] == [0, 1]
    for search in searches:
        chosen = next(r for r in runs if r.run_hash == search.pick_hash)
        best_val = max(r.val_acc for r in runs
                       if r.spec.seed == search.seed and r.spec.target.startswith("block"))
        assert chosen.val_acc == best_val  # Bopt is chosen on validation
        assert search.runs == 2 and search.trained == 2
    assert (out / "runs.csv").read_text().count("\n") == 9
    assert "Bopt" in result.output and "BL1" in result.output

    again = CliRunner().invoke(cli, [*TINY, "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert "0 trained, 8 reused" in again.output
    assert len(list(read_jsonl(out / "runs.jsonl", RunRecord))) == 8  # nothing retrained
    second = list(read_jsonl(out / "searches.jsonl", SearchRecord))[2:]
    assert [s.pick for s in second] == [s.pick for s in searches]
    assert all(s.trained == 0 for s in second)


@pytest.mark.tf
def test_config_file_holds_what_flags_can(tiny, tmp_path):
    config = tmp_path / "bench.toml"
    config.write_text(
        'backbone = "tiny-net"\ndataset = "blobs"\npartition = "by-stage"\nweights = "none"\n'
        "seeds = 1\nepochs = 1\nbudget = 1\n[hparams]\nbatch_size = 8\ndense_units = 8\n"
    )
    out = tmp_path / "r"
    result = CliRunner().invoke(cli, ["compare", "--config", str(config), "--out", str(out),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    runs = list(read_jsonl(out / "runs.jsonl", RunRecord))
    assert sorted(r.spec.target for r in runs) == ["bl1", "bl2", "block:0"]
    assert runs[0].spec.hparams["dense_units"] == 8 and runs[0].spec.hparams["epochs"] == 1


@pytest.mark.parametrize("args, message", [
    (["-b", "mobilenetv9", "-d", "blobs"], "unknown backbone 'mobilenetv9'"),
    (["-b", "tiny-net", "-d", "blobz"], "Did you mean 'blobs'"),
    (["-b", "tiny-net", "-d", "blobs", "-p", "by-stage", "--hparam", "epochz=3"], "unknown hyper-parameter"),
    (["-b", "tiny-net", "-d", "blobs", "-p", "by-stage", "--policy", "exhaustiv"], "Did you mean 'exhaustive'"),
    (["-b", "tiny-net", "-d", "blobs", "--seeds", "0"], "--seeds must be at least 1"),
])
def test_bad_input_is_one_line_without_traceback(tiny, tmp_path, args, message):
    result = CliRunner().invoke(cli, ["compare", *args, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.assets
def test_real_mobilenet_on_real_flowers_beats_chance(assets_dir, tmp_path, monkeypatch):
    """MobileNet alpha 0.25 with its real ImageNet weights on the flowers5 photos."""
    import keras.src.backend.config as keras_config

    home = tmp_path / "keras"
    (home / "models").mkdir(parents=True)
    shutil.copy(assets_dir / "keras-models" / "mobilenet_2_5_224_tf_no_top.h5", home / "models")
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(home))  # keras reads KERAS_HOME at import
    out = tmp_path / "results"
    args = ["compare", "-b", "mobilenet", "--backbone-option", "alpha=0.25",
            "-d", str(assets_dir / "flowers5"), "--input-size", "64", "--epochs", "2",
            "--seeds", "1", "--budget", "1", "--out", str(out), "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    runs = {r.spec.target: r for r in read_jsonl(out / "runs.jsonl", RunRecord)}
    assert set(runs) == {"bl1", "bl2", "block:0"}
    bl1 = runs["bl1"]
    assert bl1.ok and bl1.spec.weights == "imagenet" and bl1.spec.dataset == "image-folder"
    assert bl1.n_train + bl1.n_val + bl1.n_test == 4064
    assert abs(bl1.n_test - 406) <= 3  # 10%, stratified per class
    assert bl1.test_acc > 0.5, bl1.test_acc  # chance is 0.2
    board = json.loads(result.output[result.output.index("{"):])
    assert board
