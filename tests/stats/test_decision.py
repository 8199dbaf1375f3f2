"""A table's decision: the validation-chosen block, its indistinguishable set, its verdicts on
test against BL1 and BL2, and the one sentence each rule gives."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from factories import exhaustive_runs, make_run, make_spec

from blockbench.core.records import RunRecord
from blockbench.stats.crossed import compare
from blockbench.stats.decision import (
    MIN_SEEDS,
    NO_BLOCK,
    NO_BLOCKS,
    TOO_FEW_SEEDS,
    UNDECIDED,
    USE_BL1,
    USE_BL2,
    USE_BLOCK,
    Decision,
    Indistinct,
    block_ranges,
    decide,
    evidence,
    seeds_for_power,
)
from blockbench.stats.grouping import group_tables
from blockbench.stats.inference import ALPHA, WIN, holm
from blockbench.stats.table_stats import TableStats, analyse_table


def _table(seeds=range(6), **kwargs):
    [table], _ = group_tables(exhaustive_runs(backbones=("mobilenet",), seeds=seeds, n_blocks=8, **kwargs))
    return table


def _flat(level):
    return lambda index, n_blocks: level


def test_fewer_than_three_seeds_decide_nothing_and_say_so():
    decision = decide(_table(seeds=(0, 1)))
    assert decision.rule == TOO_FEW_SEEDS and decision.chosen is None and decision.seeds == 2
    assert decision.sentence == "Only 2 seeds shared by every block: no decision; run at least 3."
    assert decision.vs_bl1 is None and decision.indistinguishable == [] and decision.more_seeds_needed is None


def test_a_block_missing_at_one_seed_leaves_the_seeds_every_block_shares():
    table = _table(seeds=(0, 1, 2))
    del table.blocks[3][2]
    assert decide(table).seeds == MIN_SEEDS - 1


def test_a_clear_winner_is_the_block_to_fine_tune_with_its_indistinguishable_set():
    table = _table()
    decision = decide(table)
    assert decision.rule == USE_BLOCK and decision.chosen == "block:7"
    assert decision.vs_bl1.verdict == WIN and decision.vs_bl1.diff_points > 5 and decision.vs_bl1.n_seeds == 6
    first, *others = decision.indistinguishable
    assert first.target == "block:7" and first.p is None
    assert all(i.p >= ALPHA for i in others)
    assert "block:0" not in {i.target for i in decision.indistinguishable}  # 12 points below on validation
    assert decision.sentence.startswith("Fine-tune block 7: +")
    assert f"{decision.seeds} seeds); blocks {block_ranges(decision.indistinguishable)} are " \
           "indistinguishable from it on validation." in decision.sentence


def test_indistinguishable_p_values_are_holm_adjusted_paired_validation_tests():
    table = _table()
    decision = decide(table)
    val = {i: {s: evidence(r, "val") for s, r in runs.items()} for i, runs in table.blocks.items()}
    others = [i for i in sorted(val) if i != 7]
    adjusted = dict(zip(others, holm([compare(val[i], val[7]).p for i in others]), strict=True))
    for item in decision.indistinguishable[1:]:
        assert item.p == pytest.approx(adjusted[int(item.target.split(":")[1])])
    excluded = {i for i, p in adjusted.items() if p < ALPHA}
    assert excluded and not excluded & {int(i.target.split(":")[1]) for i in decision.indistinguishable}


def test_test_accuracies_are_means_over_the_decision_seeds():
    table = _table()
    decision = decide(table)
    chosen = decision.indistinguishable[0]
    assert chosen.test_acc == pytest.approx(np.mean([r.test_acc for r in table.blocks[7].values()]))


@pytest.mark.parametrize(("kwargs", "rule", "start"), [
    ({"bl2": 0.9, "noise": 0.01}, USE_BL2, "Fine-tune everything (BL2): it beats block "),
    ({"bl2": 0.6, "profile": _flat(0.65), "noise": 0.01}, USE_BL1, "Train the head alone (BL1): it beats block "),
    ({"bl2": 0.6, "profile": _flat(0.725), "noise": 0.02, "seeds": range(10)}, NO_BLOCK,
     "No block beats BL1 beyond noise (best on validation: block "),
])
def test_each_rule_has_its_sentence(kwargs, rule, start):
    decision = decide(_table(**kwargs))
    assert decision.rule == rule and decision.sentence.startswith(start)
    assert decision.more_seeds_needed is None


def test_no_block_says_the_head_alone_is_the_cheapest_adequate_choice():
    decision = decide(_table(bl2=0.6, profile=_flat(0.725), noise=0.02, seeds=range(10)))
    assert decision.sentence.endswith(", 10 seeds): training the head alone is the cheapest adequate choice.")
    assert decision.vs_bl1.diff_points < 1


def test_an_undecided_gain_says_how_many_more_seeds_would_detect_it():
    decision = decide(_table(bl2=0.6, profile=_flat(0.735), noise=0.03))
    assert decision.rule == UNDECIDED
    assert decision.vs_bl1.verdict == "within noise" and decision.vs_bl1.diff_points >= 1
    more = decision.more_seeds_needed
    assert isinstance(more, int) and more >= 1
    assert f"about {more} more seeds would detect the observed " in decision.sentence
    assert decision.sentence.endswith("at 80 % power.")


def test_the_more_seeds_follow_the_paired_t_power_of_the_per_seed_differences():
    table = _table(bl2=0.6, profile=_flat(0.735), noise=0.03)
    decision = decide(table)
    chosen = int(decision.chosen.split(":")[1])
    d = np.array([table.blocks[chosen][s].test_acc - table.baselines["bl1"][s].test_acc for s in range(6)])
    # Bonferroni over the two baseline comparisons: the Holm threshold of the smaller p-value.
    needed = seeds_for_power(float(d.mean()), float(d.std(ddof=1)), ALPHA / 2)
    assert decision.more_seeds_needed == max(1, needed - 6)


@pytest.mark.parametrize(("effect", "seeds"), [(0.5, 34), (1.0, 10), (0.8, 15)])
def test_seeds_for_power_matches_the_paired_t_tables(effect, seeds):
    # Two-sided paired t, alpha 0.05, power 0.8, effect size d_z (Cohen 1988; G*Power gives the same).
    assert seeds_for_power(effect, 1.0) == seeds
    assert seeds_for_power(-effect, 1.0) == seeds


def test_seeds_for_power_without_an_effect_or_beyond_the_limit_is_none():
    assert seeds_for_power(0.0, 1.0) is None
    assert seeds_for_power(0.01, 1.0, most=100) is None


def test_per_example_outcomes_are_used_when_the_records_have_them():
    rng = np.random.default_rng(3)
    runs = []
    for seed in range(4):
        for target in ("bl1", "bl2", "block:0", "block:1", "block:2"):
            val, test = (rng.random(200) < 0.7), (rng.random(200) < (0.9 if target == "block:2" else 0.7))
            r = make_run(make_spec(target, seed), float(val.mean()), float(test.mean()), 200, 3)
            runs.append(dataclasses.replace(r, val_correct=RunRecord.encode_correct(val),
                                            test_correct=RunRecord.encode_correct(test)))
    [table], _ = group_tables(runs)
    assert evidence(table.blocks[2][0], "val").correct is not None
    decision = decide(table)
    assert decision.seeds == 4 and decision.chosen in {"block:0", "block:1", "block:2"}
    assert decision.vs_bl1 is not None and decision.vs_bl1.p is not None


def test_a_table_of_baselines_alone_has_nothing_to_decide():
    runs = [r for r in exhaustive_runs(backbones=("m",), seeds=range(3), n_blocks=2)
            if r.spec.target in ("bl1", "bl2")]
    [table], _ = group_tables(runs)
    assert decide(table).rule == NO_BLOCKS


def test_the_decision_travels_with_the_table_statistics():
    stats = analyse_table(_table())
    assert stats.decision == decide(_table())
    data = stats.to_dict()["decision"]
    assert set(data) >= {"seeds", "chosen", "indistinguishable", "vs_bl1", "vs_bl2", "sentence",
                         "more_seeds_needed"}
    assert set(data["indistinguishable"][0]) == {"target", "test_acc", "p"}
    assert set(data["vs_bl1"]) >= {"diff_points", "p", "verdict"}
    assert TableStats.from_dict(stats.to_dict()).decision == stats.decision
    assert Decision.from_dict(Decision(2, None, "x").to_dict()) == Decision(2, None, "x")


def test_block_ranges_join_runs_of_three_or_more():
    items = [Indistinct(f"block:{i}", 0.5) for i in (19, 15, 16, 17, 18, 22, 24, 25)]
    assert block_ranges(items) == "15\u201319, 22, 24, 25"
