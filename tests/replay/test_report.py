"""The replay report: metrics, paired verdicts, anytime points, and its text formats."""

from __future__ import annotations

import json

import pytest

from blockbench.core.errors import UsageError
from blockbench.core.formats import REPLAY_REPORT, identify
from blockbench.plugin.manager import get_components
from blockbench.replay.render import format_for, format_report
from blockbench.replay.report import anytime_points, build_report, compare, summarize
from blockbench.replay.runner import PolicySpec, Repeat, parse_budget, run_replay
from blockbench.report.regret import parse_points, regret_curves
from tests.replay_tables import one_table

VAL = [[0.50, 0.52, 0.54, 0.56, 0.58, 0.90, 0.60, 0.62, 0.64, 0.89, 0.66, 0.68]] * 2
TEST = [[0.50, 0.52, 0.54, 0.56, 0.58, 0.80, 0.60, 0.62, 0.64, 0.7925, 0.66, 0.68]] * 2


def repeat(policy: str, i: int, pick_test: float | None, seed: int = 0, **kw) -> Repeat:
    base = dict(table="t", policy=policy, budget="q4", repeat=i, run_seed=seed, policy_seed=i,
                pick="block:1" if pick_test is not None else None, pick_test=pick_test,
                bopt="block:0", bopt_test=0.8, runs=3, epochs=30, cost=3.0, runs_to_bopt=None,
                trace=[], pick_mean=pick_test, best="block:0", best_mean=0.8)
    return Repeat(**{**base, **kw})


def test_summary_metrics_in_points() -> None:
    rows = [repeat("p", 0, 0.8, runs_to_bopt=2), repeat("p", 1, 0.795), repeat("p", 2, 0.79),
            repeat("p", 3, None)]
    s = summarize(rows)
    assert s["regret"] == pytest.approx((0 + 0.5 + 1.0) / 3)
    assert s["within_0_5"] == 0.5 and s["within_1"] == 0.75  # no pick counts as a miss
    assert s["no_pick"] == 1 and s["reached_bopt"] == 0.25 and s["runs_to_bopt"] == 2
    assert s["pick_test"] == pytest.approx(79.5) and s["bopt_test"] == pytest.approx(80.0)


def test_paired_verdict_needs_lower_regret_and_more_seeds_better() -> None:
    groups = {("t", "a", "q4"): [repeat("a", i, 0.80, seed=i % 2) for i in range(4)],
              ("t", "b", "q4"): [repeat("b", i, 0.78 if i % 2 else 0.80, seed=i % 2) for i in range(4)],
              ("t", "c", "q4"): [repeat("c", i, 0.70 if i % 2 else 0.82, seed=i % 2) for i in range(4)]}
    a_vs_b = compare(groups, "a", "b", "q4")
    assert a_vs_b["verdict"] == "better" and a_vs_b["mean_diff"] == pytest.approx(-1.0)
    assert (a_vs_b["wins"], a_vs_b["ties"], a_vs_b["losses"]) == (2, 2, 0)
    assert (a_vs_b["cells_better"], a_vs_b["cells_worse"], a_vs_b["cells"]) == (1, 0, 2)
    c_vs_a = compare(groups, "c", "a", "q4")  # worse on average, better at one seed of two
    assert c_vs_a["mean_diff"] > 0 and c_vs_a["verdict"] == "no clear difference"
    assert compare(groups, "a", "missing", "q4") is None


def test_anytime_points_wait_until_every_repeat_has_a_pick() -> None:
    groups = {("t", "p", "q4"): [repeat("p", 0, 0.8, trace=[(1.0, 4.0), (2.0, 1.0), (3.0, 0.0)]),
                                 repeat("p", 1, 0.8, trace=[(2.2, 2.0), (3.0, 2.0)])]}
    points = anytime_points(groups, label_budget=False)
    assert [(p["budget"], p["regret"]) for p in points] == [(3, 1.0)]
    curves = regret_curves(parse_points(points))
    assert curves == {"p": [(3.0, 1.0, 1.0, 1.0)]}


@pytest.fixture(scope="module")
def report() -> dict:
    table = one_table(VAL, TEST)
    specs = [PolicySpec(n, n) for n in ("exhaustive", "last-quarter", "random", "optuna-tpe")]
    budgets = [parse_budget("q4"), parse_budget("default")]
    outcome = run_replay([table], specs, budgets, 30, 0, get_components())
    return build_report([table], specs, outcome, repeats=30, seed=0, budgets=["q4", "default"],
                        command="blockbench replay --budget q4", notes=["a note"])


def test_the_report_holds_tables_rows_comparisons_and_plot_points(report) -> None:
    assert report["format"] == "blockbench-replay" and report["meta"]["repeats"] == 30
    assert report["tables"][0]["bopt"]["0"]["target"] == "block:5"
    exhaustive = next(r for r in report["overall"]
                      if r["policy"] == "exhaustive" and r["budget"] == "default")
    assert exhaustive["regret"] == 0 and exhaustive["within_0_5"] == 1 and exhaustive["runs"] == 12
    pairs = {(c["policy"], c["reference"], c["budget"]) for c in report["comparisons"]}
    assert ("optuna-tpe", "random", "q4") in pairs and ("random", "last-quarter", "default") in pairs
    assert not any(p == "exhaustive" for p, _, _ in pairs)
    assert {p["policy"] for p in report["points"]} >= {"random @ q4", "exhaustive @ default"}
    json.dumps(report, allow_nan=False)


def test_the_json_report_is_marked_and_read_back_by_plot_regret(report) -> None:
    again = json.loads(json.dumps(report))
    assert identify(again) is REPLAY_REPORT
    assert REPLAY_REPORT.upgrade(again) is again
    assert len(parse_points(again, "replay.json")) == len(report["points"])


def test_markdown_and_text_show_every_section(report) -> None:
    md = format_report(report, "markdown")
    assert "`blockbench replay --budget q4`" in md
    for title in ("## Tables", "## Budget q4: overall", "## Budget default: against last-quarter",
                  "## Budget q4: anytime regret after x full-run equivalents", "## Notes"):
        assert title in md
    assert "| exhaustive |" in md
    text = format_report(report, "table")
    assert "Budget q4: overall" in text and "optuna-tpe" in text
    assert "Notes\na note" in text
    assert json.loads(format_report(report, "json"))["meta"]["seed"] == 0


def test_output_format_follows_the_suffix() -> None:
    assert format_for("r.md", None) == "markdown" and format_for("r.json", None) == "json"
    assert format_for("r.out", "json") == "json"
    with pytest.raises(UsageError, match=r"cannot tell the format of 'r\.out'"):
        format_for("r.out", None)
