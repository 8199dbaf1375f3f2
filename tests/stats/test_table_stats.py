"""Per-table statistics: summaries, paired comparisons with Holm, noise verdicts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from factories import exhaustive_runs, failed_run, make_run, make_spec
from scipy import stats

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


def test_method_summaries_and_paired_tests_match_scipy():
    [table] = _analyse(exhaustive_runs(backbones=("mobilenet",), seeds=range(6)))
    bopt, bl1 = table.method("bopt"), table.method("bl1")
    seeds = sorted(bopt.values)
    a, b = [bopt.values[s] for s in seeds], [bl1.values[s] for s in seeds]
    assert bopt.summary.mean == pytest.approx(np.mean(a))
    assert bopt.summary.sd == pytest.approx(np.std(a, ddof=1))
    c = table.comparison("bopt", "bl1")
    assert c.paired.t_p == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert c.se_seeds == pytest.approx(np.std(np.subtract(a, b), ddof=1) / np.sqrt(6))
    assert c.se_test == pytest.approx(np.hypot(np.sqrt(np.mean(a) * (1 - np.mean(a)) / 200),
                                               np.sqrt(np.mean(b) * (1 - np.mean(b)) / 200)))


def test_holm_covers_the_whole_table():
    [table] = _analyse(exhaustive_runs(backbones=("mobilenet",), seeds=range(6)))
    raw = [c.paired.t_p for c in table.comparisons]
    assert [c.paired.t_p_holm for c in table.comparisons] == pytest.approx(holm(raw))
    # Every fair method against both baselines, BL2 against BL1 once, never the optimistic block.
    pairs = {(c.method, c.reference) for c in table.comparisons}
    assert ("bl2", "bl1") in pairs and ("bl1", "bl2") not in pairs
    assert not any(m == "optimistic" for m, _ in pairs)
    assert len(pairs) == 1 + 2 * 5  # BL2 vs BL1, and Bopt, Q1..Q4 vs both


def test_verdicts_win_loss_and_within_noise():
    # Large test set (SE ~0.013 per accuracy): a 0.10 margin is a win, 0.01 is noise.
    runs = _seeded({"bl1": [0.70, 0.71, 0.70], "bl2": [0.80, 0.81, 0.80],
                    "block:0": [0.60, 0.61, 0.60], "block:1": [0.61, 0.62, 0.61],
                    "block:2": [0.62, 0.63, 0.62], "block:3": [0.81, 0.82, 0.81]})
    [table] = _analyse(runs)
    assert table.comparison("bopt", "bl1").verdict == WIN
    assert table.comparison("bopt", "bl2").verdict == WITHIN_NOISE
    assert table.comparison("q1", "bl2").verdict == LOSS
    within = table.comparison("bopt", "bl2")
    assert abs(within.paired.mean_diff) <= within.band


def test_small_test_set_turns_a_seed_consistent_margin_into_noise():
    accs = {"bl1": [0.70, 0.70, 0.70], "bl2": [0.70, 0.71, 0.70],
            "block:0": [0.75, 0.76, 0.75], "block:1": [0.5] * 3, "block:2": [0.5] * 3,
            "block:3": [0.5] * 3}
    [big] = _analyse(_seeded(accs, n_test=5000))
    [small] = _analyse(_seeded(accs, n_test=50))
    assert big.comparison("bopt", "bl1").verdict == WIN
    assert small.comparison("bopt", "bl1").verdict == WITHIN_NOISE


def test_comparisons_pair_only_common_seeds():
    runs = exhaustive_runs(backbones=("mobilenet",), seeds=range(4), n_blocks=4)
    runs = [r for r in runs if not (r.spec.target == "bl1" and r.spec.seed == 3)]
    [table] = _analyse(runs)
    assert table.method("bl1").summary.n == 3
    assert table.comparison("bopt", "bl1").paired.n == 3
    assert table.comparison("bopt", "bl2").paired.n == 4


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
