"""Quiet by default: no TensorFlow start-up lines, no lines wrapped at 80 columns when piped,
and weights digests shortened in what people read."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli
from blockbench.cli.output import console, err_console
from tests.engine_fixtures import components

#: What TensorFlow and absl print at start-up (and at the first device listing) without a GPU.
NOISE = re.compile(r"^[IWE]\d{4} |absl::InitializeLog|cuInit|cuda drivers|oneDNN|cpu_feature_guard",
                   re.M)


def blockbench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user has it
    return subprocess.run([sys.executable, "-m", "blockbench", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


@pytest.mark.tf
def test_tensorflow_start_up_lines_do_not_reach_the_user():
    child = blockbench("blocks", "demo-cnn", "--weights", "none")
    assert child.returncode == 0, child.stderr
    assert "demo-cnn" in child.stdout
    assert not NOISE.search(child.stderr), child.stderr
    verbose = blockbench("--verbose", "blocks", "demo-cnn", "--weights", "none")
    assert verbose.returncode == 0, verbose.stderr  # the lines may appear; not every machine prints them


def test_consoles_never_wrap_when_not_a_terminal():
    long = " ".join(["word"] * 60)

    @click.command()
    def speak() -> None:
        console().print(long)
        err_console().print(long)

    result = CliRunner().invoke(speak)
    assert result.output.splitlines() == [long] * 2


@pytest.mark.tf
def test_piped_compare_progress_lines_are_whole(monkeypatch, tmp_path):
    monkeypatch.setattr("blockbench.plugin.manager.get_components", components)
    out = tmp_path / ("a-results-directory-with-a-long-name-" * 2)
    result = CliRunner().invoke(cli, [
        "compare", "-b", "tiny-net", "-d", "blobs", "-p", "by-stage", "--weights", "none",
        "--epochs", "1", "--hparam", "batch_size=8", "--hparam", "dense_units=8", "--seeds", "1",
        "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    progress = [line for line in lines if line.startswith("[")]
    pattern = (r"\[\d/4 +\d+\.\ds\] trained tiny-net/blobs seed 0 (bl1|bl2|block:\d): "
               r"val \d\.\d{3} test \d\.\d{3} \(\d+\.\ds\)")
    assert len(progress) == 4 and all(re.fullmatch(pattern, line) for line in progress), progress
    assert any(line.startswith("4 runs: ") and line.endswith("blockbench.db") for line in lines)
