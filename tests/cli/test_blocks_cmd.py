"""Tests of ``blockbench blocks`` (blockbench.cli.blocks_cmd)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli


def _invoke(*args: str) -> object:
    return CliRunner().invoke(cli, ["blocks", *args])


@pytest.mark.tf
def test_table_lists_every_block_and_a_summary() -> None:
    result = _invoke("mobilenet", "--input-size", "32")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for header in ("block", "first layer", "last layer", "layers", "params", "share"):
        assert header in out
    assert "conv_pw_13_relu" in out and "32.8%" in out  # the last pointwise conv, 1/3 of MobileNet
    assert out.strip().splitlines()[-1].startswith("mobilenet (input 32, alpha=1.0, weights none)")
    assert "partition delimiter (delimiters=activation,batchnorm,maxpool), 27 blocks" in out


@pytest.mark.tf
def test_json_holds_every_layer_of_every_block() -> None:
    result = _invoke("mobilenet", "--input-size", "32", "--backbone-option", "alpha=0.25",
                     "--partition", "uniform", "--partition-option", "k=4", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["backbone"] == "mobilenet" and data["options"]["alpha"] == 0.25
    assert data["partition"] == "uniform" and data["params"] == {"k": 4}
    assert data["n_blocks"] == len(data["blocks"]) == 4
    layers = [name for block in data["blocks"] for name in block["layers"]]
    assert len(layers) == len(set(layers)) == 85  # MobileNet's 86 layers minus the input
    for block in data["blocks"]:
        assert block["layers"][0] == block["first_layer"]
        assert block["layers"][-1] == block["last_layer"]
        assert len(block["layers"]) == block["n_layers"]
    assert sum(b["trainable_params"] for b in data["blocks"]) == data["total_trainable_params"]
    assert sum(b["share"] for b in data["blocks"]) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(("args", "message"), [
    (["mobilenett"], "unknown backbone 'mobilenett'. Did you mean 'mobilenet'"),
    (["mobilenet", "-p", "stagee"], "unknown partition 'stagee'. Did you mean 'stage'"),
    (["mobilenet", "-p", "uniform", "--partition-option", "k=0"], "uniform k must be a positive"),
    (["mobilenet", "--partition-option", "k=8"],
     "unknown option(s) k for partition 'delimiter'; valid: delimiters"),
    (["mobilenet", "--partition-option", "k"], "--partition-option expects KEY=VALUE, got 'k'"),
    (["vgg16", "--backbone-option", "alpah=0.5"], "unknown option(s) alpah for backbone 'vgg16'"),
    # the spellings of 0.1 still work
    (["mobilenet", "--param", "k=8"], "unknown option(s) k for partition 'delimiter'"),
    (["vgg16", "--option", "alpha=0.5"], "unknown option(s) alpha for backbone 'vgg16'"),
    (["mobilenet", "--weights", "missing.h5"], "weights 'missing.h5' is neither"),
    (["mobilenet", "--input-size", "0"], "--input-size 0 is not valid; use a whole number of pixels"),
    (["mobilenet", "--input-size", "-3"], "--input-size -3 is not valid"),
])
def test_bad_input_is_one_line_and_exit_code_2(args: list[str], message: str) -> None:
    result = _invoke(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert result.stdout == ""


def test_help_shows_the_shared_option_flags_only() -> None:
    result = _invoke("--help")
    assert "--partition-option KEY=VALUE" in result.stdout
    assert "--backbone-option KEY=VALUE" in result.stdout
    assert "--param" not in result.stdout and "--option " not in result.stdout


def test_imagenet_is_refused_at_once_for_a_backbone_without_pretrained_weights(monkeypatch) -> None:
    from tests.engine_fixtures import TinyNet, components

    class Untrained(TinyNet):
        has_pretrained_weights = False

    registered = components()
    registered.backbones.add("untrained", Untrained())
    monkeypatch.setattr("blockbench.plugin.manager.get_components", lambda: registered)
    result = _invoke("untrained", "-p", "by-stage", "--weights", "imagenet")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: backbone 'untrained' has no pretrained weights; use "
                                     "weights 'none' (random initialisation) or a weights file")
