"""Anytime-regret reports: the accepted JSON format and the per-policy curves."""

from __future__ import annotations

import json
import re

import pytest

from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.formats import REPLAY_REPORT, FormatError
from blockbench.report.regret import RegretPoint, load_points, parse_points, regret_curves


def test_list_and_replay_report_forms(tmp_path):
    points = [{"policy": "random", "budget": 2, "regret": 0.05, "table": "t1", "seed": 0}]
    assert parse_points(points) == [RegretPoint("random", 2.0, 0.05)]
    path = tmp_path / "replay.json"
    path.write_text(json.dumps({**REPLAY_REPORT.marker(), "points": points}))
    assert load_points(path) == [RegretPoint("random", 2.0, 0.05)]


def test_an_object_must_be_a_replay_report(tmp_path):
    path = tmp_path / "replay.json"
    path.write_text(json.dumps({"points": [{"policy": "random", "budget": 2, "regret": 0.05}]}))
    with pytest.raises(FormatError, match=rf"^{re.escape(str(path))}: not a blockbench replay report "
                                          r"\(no 'format' key; expected 'format': 'blockbench-replay'\)$"):
        load_points(path)
    path.write_text(json.dumps({"format": "blockbench-leaderboard", "format_version": 1}))
    with pytest.raises(FormatError, match=r"not a blockbench replay report: it is a blockbench leaderboard$"):
        load_points(path)


@pytest.mark.parametrize("data", [[], {**REPLAY_REPORT.marker(), "points": "x"},
                                  {**REPLAY_REPORT.marker()}, "points",
                                  [{"policy": "a", "budget": "many", "regret": 0}],
                                  [{"policy": "a", "regret": 0}], [{"policy": "a", "budget": 1,
                                                                    "regret": float("nan")}]])
def test_malformed_reports(data):
    with pytest.raises(BlockbenchError):
        parse_points(data)


def test_missing_and_non_json_files(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_points(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("nope")
    with pytest.raises(FormatError, match="not a JSON regret report"):
        load_points(tmp_path / "bad.json")


def test_curves_average_tables_and_seeds():
    points = parse_points([
        {"policy": "sha", "budget": 4, "regret": 0.02}, {"policy": "sha", "budget": 4, "regret": 0.04},
        {"policy": "sha", "budget": 2, "regret": 0.10}, {"policy": "random", "budget": 2, "regret": 0.0},
    ])
    curves = regret_curves(points)
    assert list(curves) == ["random", "sha"]
    assert curves["sha"] == [(2.0, 0.10, 0.10, 0.10), (4.0, pytest.approx(0.03), 0.02, 0.04)]
