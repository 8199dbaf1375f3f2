"""The quarter analysis across tables: shares of independent units where a quarter's best block beats both baselines."""

from __future__ import annotations

import json

import pytest
from factories import exhaustive_runs
from scipy import stats

from blockbench.report.leaderboard import build_leaderboard
from blockbench.report.sections import quarter_sections
from blockbench.stats.grouping import group_tables
from blockbench.stats.quarters import QuarterAnalysis, analyse_quarters
from blockbench.stats.table_stats import analyse_table


def _tables(runs):
    return [analyse_table(t) for t in group_tables(runs)[0]]


def _flat(value):
    return lambda index, n_blocks: value


def test_share_of_tables_where_q4_beats_both_baselines():
    # Two backbones whose last blocks beat BL1 (0.72) and BL2 (0.76), one whose blocks never do.
    runs = exhaustive_runs(backbones=("mobilenet", "vgg16"), seeds=(0, 1, 2), noise=0.0, val_noise=0.0)
    runs += exhaustive_runs(backbones=("xception",), seeds=(0, 1, 2), profile=_flat(0.70),
                            noise=0.0, val_noise=0.0)
    analysis = analyse_quarters(_tables(runs))
    q4 = analysis.share(4)
    assert (q4.n_tables, q4.beats_both) == (3, 2)
    assert q4.share == pytest.approx(2 / 3)
    assert analysis.share(1).beats_both == 0


def test_beyond_noise_needs_a_win_against_both():
    # n_test = 10000: test-set noise is small, so 0.82 vs 0.76 is a win against both baselines.
    runs = exhaustive_runs(backbones=("mobilenet",), seeds=(0, 1, 2), n_test=10000, noise=0.001,
                           val_noise=0.0)
    q4 = analyse_quarters(_tables(runs)).share(4)
    assert (q4.beats_both, q4.wins_both) == (1, 1)
    runs = exhaustive_runs(backbones=("mobilenet",), seeds=(0, 1, 2), n_test=50, noise=0.001,
                           val_noise=0.0)
    q4 = analyse_quarters(_tables(runs)).share(4)
    assert (q4.beats_both, q4.wins_both) == (1, 0)


def test_gains_are_block_means_minus_the_better_baseline():
    runs = exhaustive_runs(backbones=("mobilenet",), seeds=(0,), n_blocks=8, noise=0.0, val_noise=0.0)
    [table] = _tables(runs)
    gains = analyse_quarters([table]).gains
    best = max(table.mean("bl1"), table.mean("bl2"))
    q4 = [table.blocks[i][1].mean - best for i in (6, 7)]
    assert (gains[4].min, gains[4].max) == (pytest.approx(min(q4)), pytest.approx(max(q4)))
    assert gains[4].n == 2


def test_tables_without_both_baselines_do_not_count():
    runs = [r for r in exhaustive_runs(backbones=("mobilenet",), seeds=(0,)) if r.spec.target != "bl2"]
    assert analyse_quarters(_tables(runs)).shares == []


def test_round_trip():
    analysis = analyse_quarters(_tables(exhaustive_runs(seeds=(0, 1))))
    assert QuarterAnalysis.from_dict(json.loads(json.dumps(analysis.to_dict()))) == analysis


def test_shares_carry_clopper_pearson_intervals_over_units():
    runs = exhaustive_runs(backbones=("mobilenet", "vgg16"), seeds=(0, 1, 2), noise=0.0, val_noise=0.0)
    runs += exhaustive_runs(backbones=("xception",), seeds=(0, 1, 2), profile=_flat(0.70),
                            noise=0.0, val_noise=0.0)
    q4 = analyse_quarters(_tables(runs)).share(4)
    expected = stats.binomtest(2, 3).proportion_ci(confidence_level=0.95, method="exact")
    assert (q4.ci_low, q4.ci_high) == (pytest.approx(expected.low), pytest.approx(expected.high))
    assert 0 <= q4.ci_low <= q4.share <= q4.ci_high <= 1
    assert analyse_quarters(_tables(runs), alpha=0.10).share(4).ci_high < q4.ci_high


def test_partitions_of_one_unit_count_once():
    # Three partitions share BL1 and BL2: one unit, not three tables beating both.
    runs = exhaustive_runs(backbones=("mobilenet",), seeds=(0, 1), noise=0.0, val_noise=0.0, partition="a")
    for partition in ("b", "c"):
        runs += [r for r in exhaustive_runs(backbones=("mobilenet",), seeds=(0, 1), noise=0.0,
                                            val_noise=0.0, partition=partition) if r.spec.partition]
    q4 = analyse_quarters(_tables(runs)).share(4)
    assert (q4.n_tables, q4.units, q4.beats_both) == (3, 1, 1)
    assert q4.ci_low == pytest.approx(0.025)  # (alpha / 2) ** (1 / n) with n = 1


def test_leaderboards_before_units_still_read():
    old = {"shares": [{"quarter": 4, "n_tables": 3, "beats_both": 2, "wins_both": 1,
                       "share": 2 / 3, "win_share": 1 / 3}], "gains": {}}
    q4 = QuarterAnalysis.from_dict(old).share(4)
    assert q4.units == 3 and q4.share == pytest.approx(2 / 3) and q4.ci_low is None


def test_quarter_shares_render_with_their_interval():
    runs = exhaustive_runs(backbones=("mobilenet", "vgg16"), seeds=(0, 1), noise=0.0, val_noise=0.0)
    shares = quarter_sections(build_leaderboard(runs, command=""))[0]
    q4 = next(row for row in shares.rows if row[0].text == "Q4")
    assert q4[3].text == "1.00 [0.16, 1.00]"
