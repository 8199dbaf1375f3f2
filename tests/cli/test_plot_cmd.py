"""``blockbench plot``: each kind writes a figure; wrong inputs are one-line errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from factories import exhaustive_runs, make_run, make_spec, racing_search, write_results

from blockbench.cli.main import cli

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    runs = exhaustive_runs(backbones=("mobilenet", "vgg16", "xception"), seeds=(0, 1), n_blocks=5)
    return write_results(tmp_path_factory.mktemp("plots"), runs)


def _invoke(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("kind", ["blocks", "quarters", "cd"])
def test_plot_from_results(results, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    result = _invoke("plot", kind, "--results", str(results), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG")


def test_plot_regret_from_a_replay_report(tmp_path):
    report = tmp_path / "replay.json"
    report.write_text(json.dumps([{"policy": "random", "budget": b, "regret": 0.1 / b}
                                  for b in range(1, 5)]))
    out = tmp_path / "regret.svg"
    result = _invoke("plot", "regret", "--replay", str(report), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert b"<svg" in out.read_bytes()[:2000]


@pytest.mark.parametrize(("document", "expected"), [
    ({"format": "blockbench-leaderboard", "format_version": 1},
     "not a blockbench replay report: it is a blockbench leaderboard"),
    ({"format": "blockbench-replay", "format_version": 2, "points": []},
     "blockbench replay report format version 2 is not supported by blockbench "),
])
def test_regret_refuses_another_kind_or_a_newer_report_in_one_line(tmp_path, document, expected):
    report = tmp_path / "replay.json"
    report.write_text(json.dumps(document))
    result = _invoke("plot", "regret", "--replay", str(report), "--out", str(tmp_path / "r.svg"))
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"Error: {report}: ") and expected in line


def test_regret_needs_a_report(tmp_path):
    result = _invoke("plot", "regret", "--out", str(tmp_path / "r.png"))
    assert result.exit_code == 2 and "needs --replay" in result.output


def test_replay_only_for_regret(results, tmp_path):
    result = _invoke("plot", "blocks", "--results", str(results), "--replay", "x.json",
                     "--out", str(tmp_path / "b.png"))
    assert result.exit_code == 2 and "only for 'plot regret'" in result.output


def test_bad_suffix_and_unknown_kind(results, tmp_path):
    result = _invoke("plot", "blocks", "--results", str(results), "--out", str(tmp_path / "b.jpg"))
    assert result.exit_code == 2 and ".png or .svg" in result.output
    assert _invoke("plot", "heatmap", "--out", "x.png").exit_code == 2


def test_plot_race_draws_the_racing_searches(tmp_path):
    search = racing_search()
    results = write_results(tmp_path / "race", [make_run(make_spec("block:5", 0), 0.8, 0.8, n_blocks=6)],
                            [search])
    out = tmp_path / "race.png"
    result = _invoke("plot", "race", "--results", str(results), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG")


def test_plot_race_without_a_racing_search_is_one_line_exit_2(results, tmp_path):
    result = _invoke("plot", "race", "--results", str(results), "--out", str(tmp_path / "race.png"))
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line == (f"Error: no racing search with rounds in {results}: run 'blockbench compare "
                    "--policy racing' first (plot race draws the rounds that search records)")
