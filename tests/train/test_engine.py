"""The fine-tuning engine: what each target trains, determinism, failures."""

from __future__ import annotations

import numpy as np
import pytest

from blockbench.core.records import RunRecord
from blockbench.core.task import SplitConfig, Task
from blockbench.data.preprocessing import preprocess
from blockbench.train.engine import Engine
from tests.engine_fixtures import components

pytestmark = pytest.mark.tf

HP = {"epochs": 2, "batch_size": 8, "dense_units": 16}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(components())


def _task(**changes):
    base = dict(backbone="tiny-net", dataset="blobs", split=SplitConfig(), partition="by-stage",
                weights="none", hparams=HP)
    base.update(changes)
    return Task(**base)


def _weights_by_layer(problem) -> dict[str, list[np.ndarray]]:
    backbone = problem.finetune.backbone
    layers = [*backbone.layers, *(lay for lay in problem.finetune.model.layers if lay is not backbone)]
    return {layer.name: [w.numpy() for w in layer.weights] for layer in layers if layer.weights}


def _changed(before, after) -> set[str]:
    return {name for name in before
            if any(not np.array_equal(b, a) for b, a in zip(before[name], after[name], strict=True))}


@pytest.mark.parametrize("target, expected", [
    ("bl1", {"bb_head_dense", "bb_head_output"}),
    ("bl2", {"bb_head_dense", "bb_head_output", "conv0", "bn0", "conv1", "bn1"}),
    ("block:1", {"bb_head_dense", "bb_head_output", "conv1", "bn1"}),
    ("block:0", {"bb_head_dense", "bb_head_output", "conv0", "bn0"}),
])
def test_target_trains_exactly_its_layers(engine, target, expected):
    problem = engine.setup(_task())
    problem.finetune.prepare_run([], 0)
    before = _weights_by_layer(problem)
    record = problem.train(problem.spec(target, seed=0))
    assert record.ok, record.error
    # Head weights are re-initialised per run, so compare the head against a fresh init.
    problem.finetune.prepare_run([], 0)
    assert _changed(before, _weights_by_layer(problem)) == set()
    after = {k: v for k, v in _weights_by_layer(problem).items()}
    record2 = problem.train(problem.spec(target, seed=0))
    trained = _changed(after, _weights_by_layer(problem))
    assert trained == expected
    assert record2.val_acc == record.val_acc


def test_frozen_batchnorm_keeps_moving_statistics(engine):
    problem = engine.setup(_task())
    problem.train(problem.spec("block:1", seed=0))
    bn0 = problem.finetune.backbone.get_layer("bn0")
    bn1 = problem.finetune.backbone.get_layer("bn1")
    np.testing.assert_array_equal(bn0.moving_mean.numpy(), np.float32(0.1))  # frozen: inference mode
    np.testing.assert_array_equal(bn0.moving_variance.numpy(), np.float32(2.0))
    assert not np.allclose(bn1.moving_mean.numpy(), 0.1)  # trained block: batch statistics


def test_repeating_a_run_gives_an_identical_record(engine):
    problem = engine.setup(_task())
    spec = problem.spec("block:0", seed=3)
    first = problem.train(spec)
    problem.train(problem.spec("bl2", seed=5))  # something else in between
    second = problem.train(spec)
    assert first.run_hash == second.run_hash
    for field in ("status", "val_acc", "test_acc", "val_loss", "test_loss", "history",
                  "trainable_params", "epochs_run"):
        assert getattr(first, field) == getattr(second, field), field


def test_seeds_change_results(engine):
    problem = engine.setup(_task())
    a = problem.train(problem.spec("bl2", seed=0))
    b = problem.train(problem.spec("bl2", seed=1))
    assert a.history != b.history


def test_nan_run_is_recorded_as_failed_and_the_next_run_proceeds(engine):
    problem = engine.setup(_task(backbone_options={"nan_block": True}))
    failed = problem.train(problem.spec("block:1", seed=0))
    assert failed.status == "failed"
    assert "NaN" in failed.error
    assert failed.val_acc is None and failed.test_acc is None
    ok = problem.train(problem.spec("block:0", seed=0))
    assert ok.ok and ok.val_acc is not None


def test_record_carries_identity_and_metrics(engine):
    problem = engine.setup(_task(hparams={**HP, "eval_epoch": "best-val"}))
    record = problem.train(problem.spec("block:1", seed=0))
    assert record.ok
    assert record.spec.partition == "by-stage" and record.spec.target == "block:1"
    assert record.block["index"] == 1 and record.block["quarter"] == 4
    assert len(record.history) == 2 and {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(
        record.history[0])
    assert 1 <= record.best_epoch <= 2
    assert record.n_train + record.n_val + record.n_test == 60
    assert 0.0 <= record.test_acc <= 1.0 and record.wall_seconds > 0
    baseline = problem.spec("bl1", seed=0)
    assert baseline.partition is None  # baselines are shared by every partition


def test_bad_hyper_parameter_is_a_one_line_error(engine):
    from blockbench.core.errors import UsageError

    with pytest.raises(UsageError, match=r"unknown hyper-parameter.*learning_rte"):
        engine.check(_task(hparams={"learning_rte": 0.1}))
    with pytest.raises(UsageError, match="block 7 does not exist"):
        engine.setup(_task()).spec("block:7", seed=0)


@pytest.mark.parametrize("eval_epoch", ["last", "best-val"])
def test_record_keeps_which_examples_the_evaluated_weights_got_right(engine, eval_epoch):
    problem = engine.setup(_task(hparams={**HP, "epochs": 3, "eval_epoch": eval_epoch}))
    record = problem.train(problem.spec("block:1", seed=0))
    assert record.ok, record.error
    val, test = record.correct("val"), record.correct("test")
    assert val.shape == (record.n_val,) and test.shape == (record.n_test,)
    assert val.sum() == round(record.val_acc * record.n_val)
    assert test.sum() == round(record.test_acc * record.n_test)
    assert record.history[record.best_epoch - 1]["val_accuracy"] == record.val_acc
    # The vectors are those of the weights left in the model (the evaluated ones), in index order.
    data = problem.data
    for split, hits in (("val", val), ("test", test)):
        x = preprocess(data.x(split).astype("float32"), problem.preprocessing)
        predicted = np.argmax(np.asarray(problem.finetune.model(x, training=False)), axis=-1)
        np.testing.assert_array_equal(hits, predicted == data.y(split))
    back = RunRecord.from_dict(record.to_dict())
    np.testing.assert_array_equal(back.correct("test"), test)


def test_a_non_finite_accuracy_fails_the_run_so_it_can_never_be_picked(engine, monkeypatch):
    from blockbench.core.failures import NAN, failure_kind
    from blockbench.train import loop

    problem = engine.setup(_task(hparams={**HP, "eval_epoch": "best-val"}))
    monkeypatch.setattr(loop, "accuracy", lambda hits: float("nan"))
    record = problem.train(problem.spec("block:1", seed=0))
    assert record.status == "failed" and failure_kind(record.error) == NAN
    assert "validation accuracy and test accuracy" in record.error
    assert record.val_acc is None and record.correct("val") is None and record.correct("test") is None
    assert RunRecord.from_dict(record.to_dict()).status == "failed"
