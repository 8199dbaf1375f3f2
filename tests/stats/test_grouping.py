"""Grouping runs into tables, and what each method reports per seed (chosen on validation)."""

from __future__ import annotations

from factories import exhaustive_runs, failed_run, make_run, make_search, make_spec

from blockbench.stats.grouping import (
    OPTIMISTIC,
    TableKey,
    group_tables,
    method_label,
    policy_labels,
    shared_seeds,
    variant_of,
)


def _table(runs, searches=()):
    tables, notes = group_tables(runs, searches)
    assert len(tables) == 1
    return tables[0], notes


def _handmade():
    """Seed 0, 4 blocks: block 1 has the best validation, block 3 the best test accuracy."""
    accs = {"bl1": (0.70, 0.71), "bl2": (0.74, 0.73), "block:0": (0.72, 0.70),
            "block:1": (0.80, 0.76), "block:2": (0.75, 0.74), "block:3": (0.78, 0.79)}
    return [make_run(make_spec(t), val, test, n_blocks=4) for t, (val, test) in accs.items()]


def test_bopt_is_chosen_on_validation_and_reported_on_test():
    table, _ = _table(_handmade())
    methods = table.methods()
    assert methods["bopt"][0].target == "block:1"
    assert methods["bopt"][0].test_acc == 0.76
    assert methods[OPTIMISTIC][0].target == "block:3"  # best on test, kept apart
    assert methods["bl1"][0].test_acc == 0.71 and methods["bl2"][0].test_acc == 0.73
    # 4 blocks: one per quarter; each quarter's best is its only block.
    assert [methods[f"q{q}"][0].target for q in range(1, 5)] == [f"block:{i}" for i in range(4)]
    assert list(methods) == ["bl1", "bl2", "bopt", "q1", "q2", "q3", "q4", OPTIMISTIC]


def test_quarter_best_is_chosen_on_validation_within_the_quarter():
    runs = [make_run(make_spec(f"block:{i}"), val, test, n_blocks=8)
            for i, (val, test) in enumerate([(0.6, 0.6)] * 6 + [(0.90, 0.70), (0.80, 0.95)])]
    table, _ = _table(runs)
    q4 = table.methods()["q4"][0]
    assert (q4.target, q4.test_acc) == ("block:6", 0.70)


def test_validation_ties_go_to_the_lowest_block():
    runs = [make_run(make_spec(f"block:{i}"), 0.8, 0.7 + i / 100, n_blocks=3) for i in range(3)]
    table, _ = _table(runs)
    assert table.methods()["bopt"][0].target == "block:0"


def test_tables_by_backbone_and_partition_share_baselines():
    runs = exhaustive_runs(backbones=("mobilenet", "vgg16"), seeds=(0, 1), n_blocks=4)
    runs += [make_run(make_spec(f"block:{i}", s, "mobilenet", partition="other"), 0.7, 0.7, n_blocks=2)
             for i in range(2) for s in (0, 1)]
    tables, _ = group_tables(runs)
    keys = [t.key for t in tables]
    assert [(k.backbone, k.partition) for k in keys] == [
        ("mobilenet", "other"), ("mobilenet", "uniform"), ("vgg16", "uniform")]
    other, uniform = tables[0], tables[1]
    assert other.methods()["bl1"] == uniform.methods()["bl1"]
    assert other.n_blocks == 2 and uniform.n_blocks == 4


def test_variant_keeps_different_protocols_apart():
    reference = make_spec("block:0")
    short = make_spec("block:0", hparams={**reference.hparams, "epochs": 2},
                      backbone_options={"alpha": 0.25})
    assert variant_of(reference) == ""
    assert variant_of(short) == "alpha=0.25,epochs=2"
    tables, _ = group_tables([make_run(reference, 0.7, 0.7), make_run(short, 0.6, 0.6)])
    assert sorted(t.key.variant for t in tables) == ["", "alpha=0.25,epochs=2"]
    assert TableKey.from_dict(tables[1].key.to_dict()) == tables[1].key
    assert tables[1].key.id.endswith("/alpha=0.25,epochs=2")


def test_runs_of_different_backends_are_different_tables():
    tf_runs = exhaustive_runs(backbones=("mobilenet",), seeds=(0, 1), n_blocks=4)
    jax_runs = [make_run(r.spec.with_(backend="jax"), r.val_acc, r.test_acc, n_blocks=4)
                for r in tf_runs]
    tables, notes = group_tables(tf_runs + jax_runs)
    assert not notes
    assert [t.key.variant for t in tables] == ["", "backend=jax"]  # TensorFlow keeps its old id
    assert tables[0].key.id == "mobilenet/flowers5/uniform/imagenet/96"
    assert tables[1].key.id == "mobilenet/flowers5/uniform/imagenet/96/backend=jax"
    assert tables[0].n_ok == tables[1].n_ok == len(tf_runs)
    short = make_spec("block:0", backend="jax", backbone_options={"alpha": 0.25})
    assert variant_of(short) == "backend=jax,alpha=0.25"


def test_failed_runs_are_excluded_and_counted():
    runs = exhaustive_runs(backbones=("mobilenet",), seeds=(0, 1), n_blocks=4)
    runs = [r for r in runs if not (r.spec.target == "block:2" and r.spec.seed == 1)]
    runs.append(failed_run(make_spec("block:2", 1), n_blocks=4))
    table, _ = _table(runs)
    assert len(table.failed) == 1
    assert table.n_ok == 2 * 6 - 1
    assert table.notes == ["seed 1: Bopt chosen among 3 of 4 blocks (others failed or missing)"]
    assert all(p.target != "block:2" for p in table.methods()["bopt"].values() if p)


def test_quarters_fall_back_to_the_block_count_seen():
    runs = [make_run(make_spec(f"block:{i}"), 0.7, 0.7) for i in range(8)]  # no block info
    table, _ = _table(runs)
    assert table.quarters == {0: 1, 1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4}


def test_policy_picks_are_matched_by_run_hash():
    runs = _handmade()
    picked = next(r for r in runs if r.spec.target == "block:2")
    table, notes = _table(runs, [make_search("random", picked)])
    assert notes == []
    assert table.methods()["policy:random"][0].test_acc == 0.74
    assert method_label("policy:random") == "random"


def test_several_policy_seeds_at_one_seed_are_averaged():
    runs = _handmade()
    b2, b3 = (next(r for r in runs if r.spec.target == t) for t in ("block:2", "block:3"))
    table, _ = _table(runs, [make_search("random", b2, policy_seed=0),
                             make_search("random", b3, policy_seed=1)])
    pick = table.methods()["policy:random"][0]
    assert pick.test_acc == (0.74 + 0.79) / 2
    assert pick.target == "block:2,block:3"


def test_unresolved_searches_are_noted():
    runs = _handmade()
    gone = make_run(make_spec("block:9"), 0.9, 0.9)
    searches = [make_search("random", None, seed=0), make_search("random", gone)]
    _, notes = _table(runs, searches)
    assert "picked nothing" in notes[0]
    assert "is not in the results" in notes[1]


def test_policy_labels_name_the_configuration_only_when_needed():
    runs = _handmade()
    a = make_search("random", runs[2])
    b = make_search("sha", runs[2], budget={"runs": 4, "epochs": None})
    c = make_search("sha", runs[2], budget={"runs": 8, "epochs": None})
    labels = policy_labels([a, b, c])
    assert labels[id(a)] == "policy:random"
    assert (labels[id(b)], labels[id(c)]) == ("policy:sha[runs=4]", "policy:sha[runs=8]")


def test_a_nan_validation_accuracy_never_makes_a_block_bopt():
    # Before: the NaN block, listed first, became Bopt (every comparison with NaN is False).
    runs = [make_run(make_spec("block:0"), float("nan"), 0.90, n_blocks=4),
            make_run(make_spec("block:1"), 0.70, 0.75, n_blocks=4),
            make_run(make_spec("block:2"), 0.80, 0.74, n_blocks=4)]
    methods = _table(runs)[0].methods()
    assert methods["bopt"][0].target == "block:2"
    assert "q1" not in methods  # Q1's only block has no valid validation accuracy: no pick


def test_shared_seeds_are_the_seeds_every_method_has():
    assert shared_seeds({0: 1, 1: 2, 2: 3}, {1: 0, 2: 0, 5: 0}) == [1, 2]
    assert shared_seeds({0: 1}) == [0]
    assert shared_seeds() == []


def test_unit_drops_the_partition():
    key = TableKey("b", "d", "uniform", "imagenet", 96, "epochs=2")
    assert key.unit == "b/d/imagenet/96/epochs=2"
    assert TableKey("b", "d", "other", "imagenet", 96, "epochs=2").unit == key.unit
    assert TableKey("b", "d", "uniform", "imagenet", 128).unit != key.unit
