"""`blockbench compare` end to end on tiny components, and on real weights and photos."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli
from blockbench.core.record_files import read_jsonl
from blockbench.core.records import RunRecord, SearchRecord
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

    exports = {name: (out / name).read_bytes() for name in ("runs.jsonl", "searches.jsonl", "runs.csv")}
    again = CliRunner().invoke(cli, [*TINY, "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert "0 trained, 8 reused" in again.output
    # The same searches again: the store keeps each once, and the exports are unchanged.
    assert {name: (out / name).read_bytes() for name in exports} == exports


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
    lines = (out / "runs.jsonl").read_text().splitlines()
    assert not any("data_notes" in json.loads(line) for line in lines)  # clean data: no new key


@pytest.mark.parametrize("args, message", [
    (["-b", "mobilenetv9", "-d", "blobs"], "unknown backbone 'mobilenetv9'"),
    (["-b", "tiny-net", "-d", "blobz"], "Did you mean 'blobs'"),
    (["-b", "tiny-net", "-d", "blobs", "-p", "by-stage", "--hparam", "epochz=3"], "unknown hyper-parameter"),
    (["-b", "tiny-net", "-d", "blobs", "-p", "by-stage", "--policy", "exhaustiv"], "Did you mean 'exhaustive'"),
    (["-b", "tiny-net", "-d", "blobs", "--seeds", "0"], "--seeds 0 is not valid"),
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
    assert bl1.n_train + bl1.n_val + bl1.n_test == 4054  # 4,064 files, 10 duplicates left out
    assert abs(bl1.n_test - 405) <= 3  # 10%, stratified per class
    assert len(bl1.data_notes) == 2
    assert bl1.test_acc > 0.5, bl1.test_acc  # chance is 0.2
    board = json.loads(result.output[result.output.index("{"):])
    assert board


BAD_FLAGS = [
    # ranges of the flags compare shares with the config file
    (["--budget", "0"], "--budget 0 is not valid; use a whole number of runs, at least 1"),
    (["--budget", "-3"], "--budget -3 is not valid"),
    (["--input-size", "0"], "--input-size 0 is not valid; use a whole number of pixels, at "
                            "least 1"),
    (["--input-size", "-5"], "--input-size -5 is not valid"),
    (["--seeds", "-1"], "--seeds -1 is not valid; use a whole number from 1 to 10,000"),
    (["--seed-start", "-1"], "--seed-start -1 is not valid; use a whole number from 0 to "
                             "4,294,957,295"),
    (["--epochs", "0"], "--epochs 0 is not valid; use a whole number, at least 1"),
    (["--split-seed", "-1"], "--split-seed -1 is not valid; use a whole number, at least 0"),
    # hyper-parameters: types (a KEY=VALUE is read as a TOML value), ranges, valid values
    (["--hparam", "batch_size=abc"], "--hparam batch_size=abc is not valid; use a whole number"),
    (["--hparam", "dropout=abc"], "--hparam dropout=abc is not valid; use a number from 0 up to, "
                                  "not including, 1"),
    (["--hparam", "epochs=2.5"], "--hparam epochs=2.5 is not valid; use a whole number, at "
                                 "least 1"),
    (["--hparam", "epochs=true"], "--hparam epochs=true is not valid"),
    (["--hparam", "batch_size=2.5"], "--hparam batch_size=2.5 is not valid"),
    (["--hparam", "batch_size=0"], "--hparam batch_size=0 is not valid"),
    (["--hparam", "dense_units=0"], "--hparam dense_units=0 is not valid"),
    (["--hparam", "dropout=1.5"], "--hparam dropout=1.5 is not valid"),
    (["--hparam", "dropout=-0.1"], "--hparam dropout=-0.1 is not valid"),
    (["--hparam", "learning_rate=0"], "--hparam learning_rate=0 is not valid; use a finite number "
                                      "greater than 0"),
    (["--hparam", "learning_rate=-1e-3"], "--hparam learning_rate=-0.001 is not valid"),
    (["--hparam", "learning_rate=abc"], "--hparam learning_rate=abc is not valid"),
    (["--hparam", "head=nosuch"], "--hparam head=nosuch is not valid; use one of flatten, gap"),
    (["--hparam", "eval_epoch=nosuch"], "use one of last, best-val"),
    (["--hparam", "precision=float64"], "use one of float32, mixed_float16"),
    (["--hparam", "optimizer=nosuch"], "use one of adam, sgd, adamw, rmsprop"),
    (["--hparam", "xla=maybe"], "--hparam xla=maybe is not valid; use true or false"),
    (["--hparam", "epochz=3"], "unknown hyper-parameter 'epochz' in --hparam. Did you mean "
                               "'epochs'? Valid: batch_size, dense_units, dropout, epochs,"),
    # options of a policy that is not run would be ignored
    (["--policy", "random", "--policy-option", "randon.k=3"],
     "policy options given for 'randon', which this compare does not run. Did you mean 'random'? "
     "Its policies: random."),
]


@pytest.mark.parametrize(("flags", "message"), BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_a_bad_flag_is_one_line_naming_it_and_what_is_valid(tmp_path, flags, message):
    result = CliRunner().invoke(cli, ["compare", "-b", "demo-cnn", "-d", "demo", "--seeds", "1",
                                      "--epochs", "1", *flags, "--out", str(tmp_path / "r")])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and message in lines[0], result.output


@pytest.mark.tf
def test_an_input_size_too_large_for_memory_is_refused_before_decoding(tmp_path, monkeypatch):
    def no_decoding(*args):
        raise AssertionError("decoded although the arrays cannot be held")

    monkeypatch.setattr("blockbench.data.prepare.decode_images", no_decoding)
    result = CliRunner().invoke(cli, ["compare", "-b", "demo-cnn", "-d", "demo", "--weights",
                                      "none", "--seeds", "1", "--input-size", "200000", "--out",
                                      str(tmp_path / "r")])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    # Refused by the first estimate that exceeds the memory: one batch's activations here.
    assert "input size 200000 is too large for backbone 'demo-cnn'" in lines[0]
    assert "TiB" in lines[0] and "it has" in lines[0]


@pytest.fixture
def tiny_folders(monkeypatch):
    """The tiny components, plus the built-in image-folder dataset."""
    from blockbench_plugins.datasets import ImageFolder

    def with_folders():
        c = components()
        c.datasets.add("image-folder", ImageFolder())
        return c

    monkeypatch.setattr("blockbench.plugin.manager.get_components", with_folders)


def _image_folder(root, per_class=5):
    """Three classes of real 16 px PNG photos of coloured noise, all distinct."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, name in enumerate(("b", "g", "r")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 120, (16, 16, 3))
            pixels[..., label] += 120
            buffer = io.BytesIO()
            Image.fromarray(pixels.astype(np.uint8)).save(buffer, "JPEG" if i == 0 else "PNG")
            (root / name / f"{i}.{'jpg' if i == 0 else 'png'}").write_bytes(buffer.getvalue())
    return root


@pytest.mark.tf
def test_data_problems_reach_the_output_the_records_and_the_leaderboard(tiny_folders, tmp_path):
    folder = _image_folder(tmp_path / "imgs")
    whole = (folder / "b" / "0.jpg").read_bytes()
    (folder / "b" / "0.jpg").write_bytes(whole[: len(whole) // 2])  # a truncated JPEG
    shutil.copy(folder / "g" / "1.png", folder / "g" / "copy.png")
    (folder / "r" / "loop").symlink_to(".")
    out = tmp_path / "results"
    args = ["compare", "-b", "tiny-net", "-d", str(folder), "-p", "by-stage", "--weights", "none",
            "--epochs", "1", "--seeds", "1", "--budget", "1", "--hparam", "batch_size=8",
            "--hparam", "dense_units=8", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    notes = [
        "did not follow 1 folder link(s) leading back to a folder already walked (a cycle or a "
        "repeat): r/loop -> r",
        "left out 1 byte-identical duplicate(s) of an image in the same class, one copy kept "
        "(g 1): g/copy.png (= g/1.png)",
        "skipped 1 undecodable image(s) (b 1): b/0.jpg",
    ]
    summary = [line for line in result.output.splitlines() if line.startswith("data ")]
    assert summary == [
        f"data image-folder (path={folder}): did not follow 1 folder link(s) leading back to a "
        "folder already walked (a cycle or a repeat); left out 1 byte-identical duplicate(s) of an "
        "image in the same class, one copy kept (g 1); skipped 1 undecodable image(s) (b 1) "
        "(listed in the run records and the leaderboard)"]
    runs = list(read_jsonl(out / "runs.jsonl", RunRecord))
    assert len(runs) == 3 and all(r.data_notes == notes for r in runs)
    assert all(r.n_train + r.n_val + r.n_test == 14 for r in runs)
    assert f"Data: {notes[2]}" in result.output

    board = CliRunner().invoke(cli, [*args, "--format", "json", "--quiet"])
    assert board.exit_code == 0, board.output
    table = json.loads(board.stdout)["tables"][0]
    assert table["data_notes"] == notes


@pytest.mark.tf
def test_a_class_left_without_images_is_one_line_before_training(tiny_folders, tmp_path):
    folder = _image_folder(tmp_path / "imgs")
    for i, path in enumerate(sorted((folder / "g").iterdir())):
        path.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg " + bytes([i]))
    result = CliRunner().invoke(cli, ["compare", "-b", "tiny-net", "-d", str(folder), "-p",
                                      "by-stage", "--weights", "none", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert ("class 'g' of dataset 'image-folder' has no usable image: 5 file(s), all undecodable"
            in result.output)
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1
    assert not (tmp_path / "r" / "runs.jsonl").exists()
