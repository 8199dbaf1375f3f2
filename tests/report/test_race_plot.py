"""``plot race``: the survivors per round of each racing search, one panel each."""

from __future__ import annotations

import pytest
from factories import make_search, racing_search

from blockbench.core.errors import UsageError
from blockbench.report import plots, race_plot

pytest.importorskip("matplotlib")


@pytest.fixture
def captured(monkeypatch):
    figures = []

    def keep(fig, path):
        figures.append(fig)
        return path

    monkeypatch.setattr(race_plot, "save_figure", keep)
    yield figures
    plots.pyplot().close("all")


def test_rounds_are_read_from_the_search_info():
    rounds = race_plot.racing_rounds(racing_search())
    assert [r.seed for r in rounds] == [0, 1, 2, 3, 4]
    assert rounds[2].eliminated == {"block:0": "worse than the leader (Holm p = 0.01)",
                                    "block:1": "worse than BL1"}
    assert rounds[4].survivors == ["block:4", "block:5"]
    assert race_plot.racing_rounds(make_search("exhaustive", None)) is None


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_race_figure_is_written(tmp_path, suffix):
    path = race_plot.plot_race([racing_search(), make_search("exhaustive", None)], tmp_path / f"race{suffix}")
    data = path.read_bytes()
    assert len(data) > 1000 and (data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data[:2000])


def test_race_panel_marks_survivors_eliminations_bl1_and_the_pick(captured, tmp_path):
    figures = captured
    race_plot.plot_race([racing_search()], tmp_path / "race.png")
    [ax] = figures[0].axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["BL1", *(f"block {i}" for i in range(6))]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["eliminated"].get_xdata()) == [3, 3, 4, 4]  # rounds 3 and 4 (1-based)
    assert list(lines["BL1 (reference)"].get_xdata()) == [1, 2, 3, 4, 5]
    assert list(lines["pick"].get_xdata()) == [5] and list(lines["pick"].get_ydata()) == [6]
    assert "stopped: max seeds" in ax.get_title()


def test_one_panel_per_racing_search_up_to_a_readable_number(captured, tmp_path):
    figures = captured
    searches = [racing_search(f"net{i}") for i in range(race_plot.MAX_PANELS + 2)]
    race_plot.plot_race(searches, tmp_path / "race.png")
    visible = [ax for ax in figures[0].axes if ax.get_visible()]
    assert len(visible) == race_plot.MAX_PANELS
    assert figures[0]._suptitle.get_text() == f"the first {race_plot.MAX_PANELS} of {race_plot.MAX_PANELS + 2} racing searches"


def test_no_racing_search_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"^no racing search with rounds in results/: run 'blockbench "
                                          r"compare --policy racing'"):
        race_plot.plot_race([make_search("exhaustive", None)], tmp_path / "race.png", "results/")
