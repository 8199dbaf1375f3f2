"""Replay tables and the replay evaluator: Bopt, completeness, short runs, signals."""

from __future__ import annotations

import pytest

from blockbench.components.policy import Signal, SignalUnavailable
from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.spec import block_target
from blockbench.replay.tables import (
    FidelityUnavailable,
    ReplayEvaluator,
    build_tables,
    short_run_val,
)
from tests.factories import make_run, make_search, make_spec
from tests.replay_tables import one_table, table_runs

VAL = [[0.50, 0.70, 0.65, 0.70], [0.60, 0.55, 0.80, 0.75]]
TEST = [[0.52, 0.68, 0.69, 0.60], [0.61, 0.50, 0.77, 0.81]]


def test_bopt_is_chosen_on_validation_per_seed_with_ties_to_the_lowest_block() -> None:
    table = one_table(VAL, TEST)
    assert table.seeds == [0, 1] and table.n_blocks == 4
    assert table.bopt[0].target == "block:1" and table.bopt[0].test_acc == 0.68  # tie with block:3
    assert table.bopt[1].target == "block:2" and table.bopt[1].test_acc == 0.77  # not block:3 (test)
    assert table.quarters == (1, 2, 3, 4) and table.full_epochs == 10 and table.eval_epoch == "last"


def test_a_seed_missing_a_block_is_left_out_with_a_note() -> None:
    runs = [r for r in table_runs(VAL, TEST) if not (r.spec.seed == 1 and r.spec.target == "block:2")]
    tables, notes = build_tables(runs)
    assert tables[0].seeds == [0]
    assert any("seeds [1] lack some blocks" in n for n in notes)


def test_a_table_without_any_complete_seed_is_not_replayable() -> None:
    runs = [r for r in table_runs(VAL, TEST) if r.spec.target != "block:0"]
    runs += [make_run(make_spec("block:0", 0), 0.5, 0.5, n_blocks=5)]
    tables, notes = build_tables(runs)
    assert tables == [] and "no seed has a run of every one of its 5 blocks" in notes[0]


def test_failed_runs_are_served_as_failures_and_never_become_bopt() -> None:
    table = one_table(VAL, TEST, failing=[(0, 1)])
    assert table.bopt[0].target == "block:3"
    evaluator = ReplayEvaluator(table, 0)
    obs = evaluator.evaluate("block:1")
    assert not obs.ok and obs.val_acc is None and evaluator.runs == 1


def test_the_evaluator_serves_validation_only_and_counts_runs_and_epochs() -> None:
    table = one_table(VAL, TEST)
    evaluator = ReplayEvaluator(table, 1)
    obs = evaluator.evaluate("block:3")
    assert (obs.target, obs.val_acc, obs.epochs, obs.ok) == ("block:3", 0.75, 10, True)
    short = evaluator.evaluate("block:2", epochs=4)
    assert short.val_acc == pytest.approx(0.80 * 0.7) and short.epochs == 4
    assert (evaluator.runs, evaluator.epochs) == (2, 14)
    assert evaluator.spent == [(1, 10), (2, 14)]
    assert evaluator.full_epochs == 10
    assert not any("test" in name for name in vars(evaluator))


def test_best_val_tables_serve_the_best_of_the_first_epochs() -> None:
    runs = table_runs(VAL, TEST)
    for r in runs:
        r.spec = r.spec.with_(hparams={**r.spec.hparams, "eval_epoch": "best-val"})
        r.run_hash = r.spec.run_hash
        r.history = [{"val_accuracy": v} for v in (0.3, 0.6, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.7)]
    table = build_tables(runs)[0][0]
    assert table.eval_epoch == "best-val"
    assert ReplayEvaluator(table, 0).evaluate("block:0", epochs=3).val_acc == 0.6


@pytest.mark.parametrize("target, epochs, error, match", [
    ("block:4", None, UsageError, "block index 4 is out of range"),
    ("layer:2", None, UsageError, "target 'layer:2' is not valid"),
    ("block:0", 11, FidelityUnavailable, "runs of 1 to 10 epochs"),
    ("bl1", None, BlockbenchError, "no run of bl1 at seed 0"),
])
def test_requests_the_table_cannot_serve_are_clear_errors(target, epochs, error, match) -> None:
    with pytest.raises(error, match=match):
        ReplayEvaluator(one_table(VAL, TEST), 0).evaluate(target, epochs=epochs)


def test_short_runs_need_a_history() -> None:
    table = one_table(VAL, TEST, history=False)
    evaluator = ReplayEvaluator(table, 0)
    assert evaluator.evaluate("block:0").ok  # full runs need none
    with pytest.raises(FidelityUnavailable, match="no per-epoch validation history"):
        evaluator.evaluate("block:0", epochs=3)


def test_baselines_of_the_table_are_served_too() -> None:
    runs = [*table_runs(VAL, TEST), make_run(make_spec("bl1", 0), 0.4, 0.41)]
    obs = ReplayEvaluator(build_tables(runs)[0][0], 0).evaluate("bl1")
    assert obs.ok and obs.val_acc == 0.4


def _signal_search(runs, seed: int, values: dict[str, float], **params):
    anchor = next(r for r in runs if r.spec.seed == seed and r.spec.target == "block:0")
    signal = Signal("gradient-norm", params, values, runs=1, epochs=params["head_epochs"],
                    anchor=anchor.run_hash)
    return make_search("gradient-rank", anchor, info={"signal": signal.to_dict()})


def test_stored_signals_are_served_for_their_seed_and_parameters_and_cost_their_run() -> None:
    runs = table_runs(VAL, TEST)
    values = {block_target(i): float(i) for i in range(4)}
    tables, _ = build_tables(runs, [_signal_search(runs, 1, values, head_epochs=2, batches=8)])
    evaluator = ReplayEvaluator(tables[0], 1)
    signal = evaluator.signal("gradient-norm", lambda *a, **k: None, head_epochs=2, batches=8)
    assert signal.values == values and (evaluator.runs, evaluator.epochs) == (1, 2)
    with pytest.raises(SignalUnavailable, match=r"batches': 4.*stored: gradient-norm"):
        evaluator.signal("gradient-norm", None, head_epochs=2, batches=4)
    with pytest.raises(SignalUnavailable, match="at seed 0; a real search stores one"):
        ReplayEvaluator(tables[0], 0).signal("gradient-norm", None, head_epochs=2, batches=8)


@pytest.mark.tf
@pytest.mark.slow
def test_a_short_run_equals_the_full_runs_history_under_the_reference_protocol() -> None:
    """The claim replay's low-fidelity observations rest on, checked by training both."""
    from blockbench.core.task import SplitConfig, Task
    from blockbench.train.engine import Engine
    from tests.engine_fixtures import components

    engine = Engine(components())
    for eval_epoch, lengths in (("last", (1, 2)), ("best-val", (2,))):
        task = Task(backbone="tiny-net", dataset="blobs", split=SplitConfig(), partition="by-stage",
                    weights="none", hparams={"epochs": 3, "batch_size": 8, "dense_units": 16,
                                             "eval_epoch": eval_epoch})
        problem = engine.setup(task)
        full = problem.train(problem.spec("block:1", 0))
        for epochs in lengths:
            short = problem.train(problem.spec("block:1", 0, epochs=epochs))
            assert short_run_val(full, epochs, eval_epoch, "tiny") == short.val_acc
            assert [h["loss"] for h in short.history] == [h["loss"] for h in full.history[:epochs]]
