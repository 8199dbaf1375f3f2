"""``blockbench check``: exit 0 when nothing moved beyond tolerance, 1 on a drop or a lost table."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner
from factories import exhaustive_runs, write_results

from blockbench.cli.main import cli
from blockbench.core.formats import LEADERBOARD


def _runs(backbones=("mobilenet", "vgg16")):
    return exhaustive_runs(backbones=backbones, seeds=(0, 1, 2), n_blocks=6, n_test=500)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    root = tmp_path_factory.mktemp("check")
    results = write_results(root / "results", _runs())
    path = root / "baseline.json"
    done = CliRunner().invoke(cli, ["leaderboard", "--results", str(results), "--out", str(path)])
    assert done.exit_code == 0, done.output
    return path


def _check(baseline, results, *extra):
    return CliRunner().invoke(cli, ["check", "--baseline", str(baseline), "--results", str(results),
                                    *extra])


def test_unchanged_results_pass(baseline, tmp_path):
    result = _check(baseline, write_results(tmp_path, _runs()))
    assert result.exit_code == 0, result.output
    assert "passed" in result.stdout


def test_a_drop_fails_with_a_table_of_what_moved(baseline, tmp_path):
    dropped = [dataclasses.replace(r, test_acc=r.test_acc - 0.2) if r.spec.backbone == "vgg16"
               and r.spec.target != "bl1" else r for r in _runs()]
    result = _check(baseline, write_results(tmp_path, dropped))
    assert result.exit_code == 1
    assert "What moved" in result.stdout and "regressed" in result.stdout
    assert "FAILED" in result.stdout and "Bopt" in result.stdout


def test_absolute_tolerance(baseline, tmp_path):
    # 5 of 500 examples lost at every seed: beyond seed noise (the differences agree), but
    # within an absolute tolerance of 0.02.
    nudged = [dataclasses.replace(r, test_acc=r.test_acc - 0.01) for r in _runs()]
    results = write_results(tmp_path, nudged)
    assert _check(baseline, results).exit_code == 1
    assert _check(baseline, results, "--tolerance", "0.02").exit_code == 0
    assert _check(baseline, results, "--tolerance", "0.005").exit_code == 1


def test_alpha_and_the_deprecated_sigmas(baseline, tmp_path):
    results = write_results(tmp_path, _runs())
    done = _check(baseline, results, "--alpha", "0.01")
    assert done.exit_code == 0 and "alpha 0.01" in done.stdout
    done = _check(baseline, results, "--sigmas", "3")
    assert done.exit_code == 0 and "alpha 0.00135" in done.stdout
    assert "--sigmas is deprecated" in done.stderr
    assert _check(baseline, results, "--alpha", "1.5").exit_code == 2
    assert _check(baseline, results, "--alpha", "0.05", "--sigmas", "3").exit_code == 2


def test_one_seed_cannot_be_gated(tmp_path):
    runs = exhaustive_runs(backbones=("mobilenet",), seeds=(0,), n_test=500)
    results = write_results(tmp_path / "r", runs)
    path = tmp_path / "one-seed.json"
    assert CliRunner().invoke(cli, ["leaderboard", "--results", str(results), "--out", str(path)]
                              ).exit_code == 0
    done = _check(path, results)
    assert done.exit_code == 1
    assert "untestable" in done.stdout and "pass --tolerance" in done.stdout
    assert _check(path, results, "--tolerance", "0.01").exit_code == 0


def test_a_drop_of_one_example_at_every_seed_is_not_noise(baseline, tmp_path):
    # Before: 11 of 72 lost at every seed passed, the test-set SE being added to the tolerance.
    dropped = [dataclasses.replace(r, test_acc=r.test_acc - 11 / 72) if r.spec.target == "bl2"
               else r for r in _runs()]
    done = _check(baseline, write_results(tmp_path, dropped))
    assert done.exit_code == 1 and "BL2" in done.stdout


def test_missing_table_fails_new_table_is_reported(baseline, tmp_path):
    result = _check(baseline, write_results(tmp_path, _runs(("mobilenet", "xception"))))
    assert result.exit_code == 1
    assert "missing table" in result.stdout and "vgg16" in result.stdout
    assert "new table" in result.stdout and "xception" in result.stdout


def test_bad_baseline_is_one_line(tmp_path):
    (tmp_path / "b.json").write_text("[]")
    result = _check(tmp_path / "b.json", write_results(tmp_path / "r", _runs(("mobilenet",))))
    assert result.exit_code == 2  # an unreadable baseline is not a regression (exit 1)
    assert "not a blockbench leaderboard" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(("change", "expected"), [
    ({"format_version": LEADERBOARD.version + 1},
     f"blockbench leaderboard format version {LEADERBOARD.version + 1} is not supported by blockbench "),
    ({"format": "blockbench-replay"}, "not a blockbench leaderboard: it is a blockbench replay report"),
    ({"format_version": None}, "blockbench leaderboard format version None is not valid"),
])
def test_a_baseline_of_a_newer_version_or_another_kind_is_one_line_exit_2(baseline, tmp_path, change,
                                                                          expected):
    path = tmp_path / "future.json"
    path.write_text(json.dumps(json.loads(baseline.read_text()) | change))
    result = _check(path, write_results(tmp_path / "r", _runs(("mobilenet",))))
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"Error: {path}: ") and expected in line
