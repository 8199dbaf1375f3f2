"""Per-table statistics: summaries, paired comparisons with Holm, noise verdicts."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from factories import exhaustive_runs, failed_run, make_run, make_spec

from blockbench.core.records import RunRecord
from blockbench.stats.grouping import group_tables
from blockbench.stats.inference import LOSS, WIN, WITHIN_NOISE, holm
from blockbench.stats.table_stats import BoxStats, TableStats, analyse_table


def _analyse(runs):
    tables, _ = group_tables(runs)
    return [analyse_table(t) for t in tables]


def _seeded(values_by_target, n_test=1000, n_blocks=4):
    """Runs whose test (and validation) accuracy per seed is given: target -> [acc per seed]."""
    return [make_run(make_spec(target, seed), acc, acc, n_test, n_blocks)
            for target, accs in values_by_target.items() for seed, acc in enumerate(accs)]


def test_method_summaries_and_comparisons_on_hit_counts():
    [table] = _analyse(exhaustive_runs(backbones=("mobilenet",), seeds=range(6)))
    bopt, bl1 = table.method("bopt"), table.method("bl1")
    seeds = sorted(bopt.values)
    a, b = [bopt.values[s] for s in seeds], [bl1.values[s] for s in seeds]
    assert bopt.summary.mean == pytest.approx(np.mean(a))
    assert bopt.summary.sd == pytest.approx(np.std(a, ddof=1))
    assert 0 < bopt.summary.ci_low < bopt.summary.mean < bopt.summary.ci_high < 1
    c = table.comparison("bopt", "bl1")
    k = np.round(np.array(a) * 200) - np.round(np.array(b) * 200)  # integer hit counts
    assert c.test.diff == pytest.approx(k.mean() / 200)
    assert c.test.n_seeds == 6 and c.test.df == 5
    assert c.verdict == (WIN if c.p_holm < 0.05 and c.test.diff > 0 else c.verdict)


def test_holm_covers_the_primary_family_only():
    [table] = _analyse(exhaustive_runs(backbones=("mobilenet",), seeds=range(6)))
    primary = [c for c in table.comparisons if c.family == "primary"]
    assert {(c.method, c.reference) for c in primary} == {("bopt", "bl1"), ("bopt", "bl2")}
    assert [c.p_holm for c in primary] == pytest.approx(holm([c.test.p for c in primary]))
    assert all(c.p_holm is None for c in table.comparisons if c.family == "secondary")
    pairs = {(c.method, c.reference) for c in table.comparisons}
    assert ("bl2", "bl1") in pairs and ("bl1", "bl2") not in pairs
    assert not any(m == "optimistic" for m, _ in pairs)


def test_verdict_and_p_come_from_the_same_test():
    # Before: "loss" beside a Holm p of 0.61 (band verdict, t-test p).
    [table] = _analyse(exhaustive_runs(backbones=("mobilenet",), seeds=range(4)))
    for c in table.comparisons:
        p = c.p_holm if c.family == "primary" else c.test.p
        assert (c.verdict in (WIN, LOSS)) == (p is not None and p < 0.05)


def test_verdicts_win_loss_and_within_noise():
    # Without per-example outcomes: the seed-level t on hit counts (Bopt - BL2: +10, -10, +20).
    runs = _seeded({"bl1": [0.70, 0.71, 0.70], "bl2": [0.80, 0.83, 0.79],
                    "block:0": [0.60, 0.61, 0.60], "block:1": [0.61, 0.62, 0.61],
                    "block:2": [0.62, 0.63, 0.62], "block:3": [0.81, 0.82, 0.81]})
    [table] = _analyse(runs)
    assert table.comparison("bopt", "bl1").verdict == WIN
    assert table.comparison("bopt", "bl2").verdict == WITHIN_NOISE
    assert table.comparison("q1", "bl2").verdict == LOSS


def test_one_seed_gives_unknown_not_win():
    [table] = _analyse(_seeded({"bl1": [0.60], "bl2": [0.62], "block:0": [0.90], "block:1": [0.5],
                                "block:2": [0.5], "block:3": [0.5]}))
    assert table.comparison("bopt", "bl1").verdict == "unknown (1 seed)"


def test_means_use_shared_seeds_and_flag_the_mismatch():
    # Before: Bopt failed at 2 of 5 seeds, bold at 0.680 vs BL1 0.660, though 0.020 worse at every
    # shared seed.
    bl1 = [0.70, 0.70, 0.70, 0.60, 0.60]
    runs = _seeded({"bl1": bl1, "bl2": bl1, **{f"block:{i}": [0.68, 0.68, 0.68, 0.68, 0.68]
                                                for i in range(4)}})
    runs = [r for r in runs if not (r.spec.block_index is not None and r.spec.seed >= 3)]
    [table] = _analyse(runs)
    assert table.method("bopt").summary.mean == pytest.approx(0.68)
    assert table.method("bl1").summary.mean == pytest.approx(0.70)
    assert table.best_method() != "bopt"
    assert any(n.startswith("BL1: seeds 0, 1, 2, 3, 4") for n in table.notes)
    c = table.comparison("bopt", "bl1")
    assert c.test.n_seeds == 3 and c.test.diff == pytest.approx(-0.02)


def test_duplicate_methods_are_merged():
    [table] = _analyse(_seeded({"bl1": [0.6, 0.61], "bl2": [0.6, 0.62], "block:0": [0.5, 0.5],
                                "block:1": [0.5, 0.5], "block:2": [0.5, 0.5], "block:3": [0.9, 0.9]}))
    assert table.method("q4").same_as == "bopt"
    assert table.comparison("q4", "bl1").same_as == "bopt"
    assert any("Q4 best = Bopt" in n for n in table.notes)


def test_nan_test_accuracy_never_gives_loss():
    runs = _seeded({"bl1": [0.6, 0.6, 0.6], "bl2": [0.6, 0.6, 0.6], "block:0": [0.7, 0.71, 0.7],
                    "block:1": [0.5] * 3, "block:2": [0.5] * 3, "block:3": [0.5] * 3})
    runs = [dataclasses.replace(r, test_acc=float("nan")) if r.spec.target == "bl2" else r
            for r in runs]
    [table] = _analyse(runs)
    assert table.comparison("bopt", "bl2") is None or table.comparison("bopt", "bl2").verdict != LOSS
    assert any("left out" in n for n in table.notes)


def test_per_example_outcomes_give_the_crossed_test():
    # The McNemar example of issue 13 at 3 seeds: 10 images only Bopt gets, 2 only BL1.
    a = np.array([1] * 160 + [0] * 40, dtype=bool)
    b = np.array([1] * 150 + [0] * 10 + [1] * 2 + [0] * 38, dtype=bool)
    runs = []
    for s in range(3):
        for target, correct in (("bl1", b), ("bl2", b), ("block:0", a), ("block:1", b),
                                ("block:2", b), ("block:3", b)):
            r = make_run(make_spec(target, s), 0.9 if correct is a else 0.5, float(correct.mean()), 200, 4)
            runs.append(dataclasses.replace(r, test_correct=RunRecord.encode_correct(correct)))
    [table] = _analyse(runs)
    c = table.comparison("bopt", "bl1")
    assert c.test.method.startswith("crossed") and c.test.n_examples == 200
    assert c.test.diff == pytest.approx(0.04) and c.verdict == WIN


def test_comparisons_pair_only_common_seeds():
    runs = exhaustive_runs(backbones=("mobilenet",), seeds=range(4), n_blocks=4)
    runs = [r for r in runs if not (r.spec.target == "bl1" and r.spec.seed == 3)]
    [table] = _analyse(runs)
    assert table.method("bl1").summary.n == 3
    assert table.comparison("bopt", "bl1").test.n_seeds == 3
    assert table.comparison("bopt", "bl2").test.n_seeds == 4


def test_failed_runs_are_reported_not_counted():
    runs = exhaustive_runs(backbones=("mobilenet",), seeds=(0, 1), n_blocks=4)
    runs = [r for r in runs if not (r.spec.target == "block:1" and r.spec.seed == 0)]
    runs.append(failed_run(make_spec("block:1", 0), n_blocks=4))
    [table] = _analyse(runs)
    assert (table.runs_ok, table.runs_failed) == (11, 1)
    assert table.failed == ["block:1 seed 0: RuntimeError: out of memory"]
    assert table.blocks[1][1].n == 1


def test_quarter_box_statistics_use_per_block_means():
    [table] = _analyse(exhaustive_runs(backbones=("mobilenet",), seeds=(0, 1), n_blocks=8))
    q4_means = [table.blocks[i][1].mean for i in (6, 7)]
    box = table.quarters[4]
    assert (box.n, box.min, box.max) == (2, min(q4_means), max(q4_means))
    assert box.median == pytest.approx(np.median(q4_means))
    assert BoxStats.of([]) is None
    five = BoxStats.of([1, 2, 3, 4, 5])
    assert (five.q1, five.median, five.q3, five.mean) == (2.0, 3.0, 4.0, 3.0)


def test_best_method_ignores_the_optimistic_block():
    [table] = _analyse(exhaustive_runs(backbones=("mobilenet",), seeds=(0, 1, 2)))
    fair = max((m for m in table.methods if not m.optimistic), key=lambda m: m.summary.mean)
    assert table.best_method() == fair.method
    assert table.method("optimistic").summary.mean >= table.method("bopt").summary.mean


def test_table_stats_json_round_trip():
    [table] = _analyse(exhaustive_runs(backbones=("mobilenet",), seeds=(0, 1, 2)))
    again = TableStats.from_dict(json.loads(json.dumps(table.to_dict())))
    assert again == table


def test_version_1_leaderboard_comparisons_upgrade_to_the_crossed_layout():
    from blockbench.core.formats import LEADERBOARD

    old = {"format": "blockbench-leaderboard", "format_version": 1, "tables": [{"comparisons": [{
        "method": "bopt", "reference": "bl1", "verdict": "win", "se_test": 0.01, "se_seeds": 0.02,
        "band": 0.04, "paired": {"n": 3, "mean_diff": 0.05, "diff_ci_low": 0.01, "diff_ci_high": 0.09,
                                 "cohens_dz": 2.0, "t_p": 0.01, "t_p_holm": 0.02}}]}]}
    doc = LEADERBOARD.upgrade(old)
    c = doc["tables"][0]["comparisons"][0]
    from blockbench.stats.table_stats import Comparison

    again = Comparison.from_dict(c)
    assert again.test.diff == 0.05 and again.test.n_seeds == 3 and again.verdict == "win"
    assert again.family == "primary" and again.p_holm == 0.02
    assert "version-1" in again.test.method
