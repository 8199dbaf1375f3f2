"""Ranking across tables: average ranks, Friedman, Nemenyi critical difference, Wilcoxon-Holm."""

from __future__ import annotations

import json

import numpy as np
import pytest
from factories import exhaustive_runs, make_search
from scipy import stats

from blockbench.stats.grouping import group_tables
from blockbench.stats.inference import holm
from blockbench.stats.ranking import Ranking, nemenyi_critical_difference, rank_methods
from blockbench.stats.table_stats import analyse_table

BACKBONES = ("b1", "b2", "b3", "b4", "b5", "b6", "b7")


def _tables(runs, searches=()):
    return [analyse_table(t) for t in group_tables(runs, searches)[0]]


def test_friedman_finds_a_clearly_better_method():
    tables = _tables(exhaustive_runs(backbones=BACKBONES, seeds=(0, 1), rng_seed=3))
    r = rank_methods(tables)
    assert r.methods[0] in ("bopt", "q4")  # the late blocks win everywhere
    assert r.average_ranks["q1"] > r.average_ranks["bl2"] > r.average_ranks["bopt"]
    scores = np.array([[t.mean(m) for m in r.methods] for t in tables])
    expected = stats.friedmanchisquare(*scores.T)
    assert r.statistic == pytest.approx(expected.statistic)
    assert r.p_value == pytest.approx(expected.pvalue)
    assert r.p_value < 0.05
    ranks = np.vstack([stats.rankdata(-row) for row in scores]).mean(axis=0)
    assert [r.average_ranks[m] for m in r.methods] == pytest.approx(list(ranks))
    assert r.critical_difference == pytest.approx(nemenyi_critical_difference(len(r.methods), 7))


def test_nemenyi_critical_values_match_demsar_table():
    # Demšar (2006), Table 5(a): q_0.05 = 2.343 (k=3), 2.569 (k=4), 2.728 (k=5), 3.164 (k=10).
    for k, q in [(3, 2.343), (4, 2.569), (5, 2.728), (10, 3.164)]:
        n = 12
        assert nemenyi_critical_difference(k, n) == pytest.approx(q * np.sqrt(k * (k + 1) / (6 * n)),
                                                                  abs=1e-3)


def test_pairwise_wilcoxon_with_holm_across_tables():
    tables = _tables(exhaustive_runs(backbones=BACKBONES, seeds=(0,), rng_seed=1))
    r = rank_methods(tables)
    pair = next(p for p in r.pairwise if {p.a, p.b} == {"bl1", "bopt"})
    d = [t.mean(pair.a) - t.mean(pair.b) for t in tables]
    assert pair.wilcoxon_p == pytest.approx(stats.wilcoxon(d).pvalue)
    assert [p.wilcoxon_p_holm for p in r.pairwise] == holm([p.wilcoxon_p for p in r.pairwise])


def test_fewer_than_three_tables_is_said_not_tested():
    r = rank_methods(_tables(exhaustive_runs(backbones=("b1", "b2"), seeds=(0,))))
    assert r.statistic is None and r.p_value is None and r.critical_difference is None
    assert any("needs ≥3 tables" in note and "have 2 table(s)" in note for note in r.notes)
    assert r.average_ranks  # ranks are still shown
    assert all("too few tables: n=2" in p.note for p in r.pairwise)


def test_methods_missing_from_a_table_are_not_ranked():
    runs = exhaustive_runs(backbones=("b1", "b2", "b3"), seeds=(0,))
    picked = next(r for r in runs if r.spec.backbone == "b1" and r.spec.target == "block:3")
    r = rank_methods(_tables(runs, [make_search("random", picked)]))
    assert "policy:random" not in r.methods
    assert "random is in 1 of 3 tables: not ranked" in r.notes


def test_optimistic_block_is_never_ranked():
    r = rank_methods(_tables(exhaustive_runs(backbones=("b1", "b2", "b3"), seeds=(0,))))
    assert "optimistic" not in r.methods


def test_all_ties_skip_the_friedman_test():
    flat = exhaustive_runs(backbones=("b1", "b2", "b3"), seeds=(0,), bl1=0.5, bl2=0.5,
                           profile=lambda i, n: 0.5, noise=0.0, val_noise=0.0)
    r = rank_methods(_tables(flat))
    assert r.statistic is None
    assert "every method ties in every table" in r.notes[-1]


def test_round_trip():
    r = rank_methods(_tables(exhaustive_runs(backbones=BACKBONES[:4], seeds=(0,))))
    assert Ranking.from_dict(json.loads(json.dumps(r.to_dict()))) == r
