"""Figures render headless (Agg) into valid PNG and SVG files."""

from __future__ import annotations

import sys

import pytest
from factories import exhaustive_runs

from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.report import plots
from blockbench.report.leaderboard import build_leaderboard
from blockbench.report.regret import parse_points

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def board():
    runs = exhaustive_runs(backbones=("mobilenet", "vgg16", "xception", "resnet50v2"), seeds=(0, 1),
                           n_blocks=6)
    return build_leaderboard(runs, command="blockbench test")


def _valid(path, suffix):
    data = path.read_bytes()
    assert len(data) > 1000
    if suffix == ".png":
        assert data.startswith(PNG_MAGIC)
    else:
        assert b"<svg" in data[:2000] and data.rstrip().endswith(b"</svg>")


@pytest.mark.parametrize("suffix", [".png", ".svg"])
@pytest.mark.parametrize("draw", [plots.plot_blocks, plots.plot_quarters,
                                  plots.plot_critical_difference])
def test_leaderboard_figures(board, tmp_path, draw, suffix):
    path = draw(board, tmp_path / f"figure{suffix}")
    _valid(path, suffix)


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_regret_figure(tmp_path, suffix):
    points = parse_points([{"policy": p, "budget": b, "regret": 0.1 / b + i / 100}
                           for i, p in enumerate(["random", "sha"]) for b in range(1, 6)])
    _valid(plots.plot_regret(points, tmp_path / f"regret{suffix}"), suffix)


def test_agg_backend_is_used(board, tmp_path):
    plots.plot_blocks(board, tmp_path / "a.png")
    import matplotlib

    assert matplotlib.get_backend().lower() == "agg"


def test_cd_diagram_needs_a_friedman_test(tmp_path):
    two = build_leaderboard(exhaustive_runs(backbones=("a", "b"), seeds=(0,)), command="")
    with pytest.raises(BlockbenchError, match="needs ≥3 independent units"):
        plots.plot_critical_difference(two, tmp_path / "cd.png")


def test_block_figures_need_block_runs(tmp_path):
    baselines = [r for r in exhaustive_runs(backbones=("a",), seeds=(0,)) if r.spec.block_index is None]
    with pytest.raises(BlockbenchError, match="no block runs"):
        plots.plot_blocks(build_leaderboard(baselines, command=""), tmp_path / "b.png")


def test_bad_suffix(board, tmp_path):
    with pytest.raises(UsageError, match=r"\.png or \.svg"):
        plots.plot_blocks(board, tmp_path / "figure.jpg")


def test_missing_matplotlib_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(BlockbenchError, match=r"pip install 'blockbench\[plots\]'"):
        plots.pyplot()


def test_cliques_span_at_most_the_critical_difference():
    assert plots._cliques([1.0, 1.5, 2.0, 4.0], 1.0) == [(0, 2)]
    assert plots._cliques([1.0, 1.8, 2.6], 1.0) == [(0, 1), (1, 2)]
    assert plots._cliques([1.0, 3.0], 1.0) == []


def _captured(monkeypatch, module):
    """Keep the figure a drawing function saves, instead of writing it."""
    figures = []

    def keep(fig, path):
        figures.append(fig)
        return path

    monkeypatch.setattr(module, "save_figure", keep)
    return figures


def test_blocks_figure_shades_quarters_and_marks_the_decision(monkeypatch, tmp_path):
    digest = "sha256:" + "9ab50ec0" + "1" * 56
    runs = exhaustive_runs(backbones=("mobilenet",), seeds=range(5), n_blocks=8, weights=digest)
    board = build_leaderboard(runs, command="")
    decision = board.tables[0].decision
    figures = _captured(monkeypatch, plots)
    plots.plot_blocks(board, tmp_path / "b.png")
    [ax] = [a for a in figures[0].axes if a.get_visible()]
    labels = ax.get_legend_handles_labels()[1]
    assert f"chosen on val (block {decision.chosen.split(':')[1]})" in labels
    assert "indistinguishable (val)" in labels
    assert [t.get_text() for t in ax.texts] == ["Q1", "Q2", "Q3", "Q4"]
    assert len(ax.patches) >= 4  # one band per quarter (and the baselines' sd bands)
    title = ax.get_title()
    assert "sha256:9ab50ec0…" in title and "1" * 20 not in title and title.count("\n") == 1
    plots.pyplot().close("all")


def test_blocks_figure_with_two_seeds_marks_no_decision(monkeypatch, tmp_path):
    board = build_leaderboard(exhaustive_runs(backbones=("mobilenet",), seeds=(0, 1)), command="")
    figures = _captured(monkeypatch, plots)
    plots.plot_blocks(board, tmp_path / "b.png")
    labels = figures[0].axes[0].get_legend_handles_labels()[1]
    assert not any(label.startswith(("chosen", "indistinguishable")) for label in labels)
    plots.pyplot().close("all")
