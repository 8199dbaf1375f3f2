"""Tasks, splits and hyper-parameters: plain values, checked against the typed settings."""

from __future__ import annotations

import re

import pytest

from blockbench.core.errors import UsageError
from blockbench.core.spec import EVAL_EPOCHS, HEADS, OPTIMIZERS, PRECISIONS, REFERENCE_HPARAMS
from blockbench.core.task import SplitConfig
from blockbench.core.task_settings import HParams, SplitSettings, check_split, complete_hparams


def test_a_split_config_is_a_plain_value_with_a_tuple_of_fractions() -> None:
    config = SplitConfig(fractions=[0.6, 0.2, 0.2], seed=3)  # type: ignore[arg-type]
    assert config.fractions == (0.6, 0.2, 0.2)
    check_split(config)
    assert config.identity() == {"kind": "stratified", "fractions": [0.6, 0.2, 0.2], "seed": 3}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "random"}, 'split kind = "random" is not valid; use one of stratified, official'),
    ({"fractions": (0.8, 0.3, -0.1)}, "split fractions = [0.8, 0.3, -0.1] is not valid; use three "
                                      "positive numbers (train, val, test) that sum to 1"),
    ({"fractions": (0.7, 0.2, 0.2)}, "split fractions = [0.7, 0.2, 0.2] is not valid"),
    ({"fractions": (0.7, 0.3, 0.0)}, "split fractions = [0.7, 0.3, 0.0] is not valid"),
    ({"fractions": (0.7, 0.3)}, "split fractions = [0.7, 0.3] is not valid"),
    ({"fractions": (0.7, "a", 0.3)}, 'split fractions = [0.7, "a", 0.3] is not valid'),
    ({"seed": "x"}, 'split seed = "x" is not valid; use a whole number, at least 0'),
    ({"seed": 1.5}, "split seed = 1.5 is not valid"),
    ({"seed": True}, "split seed = true is not valid"),
    ({"seed": -1}, "split seed = -1 is not valid"),
])
def test_a_split_that_is_not_valid_is_one_line(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        check_split(SplitConfig(**kwargs))


def test_complete_hparams_fills_in_the_reference_and_keeps_given_values_as_given() -> None:
    assert complete_hparams({}) == REFERENCE_HPARAMS
    given = {"epochs": 3, "learning_rate": 1, "dropout": 0, "xla": False, "head": "gap"}
    assert complete_hparams(given) == {**REFERENCE_HPARAMS, **given}
    assert type(complete_hparams(given)["learning_rate"]) is int  # 1 and 1.0 hash differently
    assert "xla" not in complete_hparams({"epochs": 3})


@pytest.mark.parametrize(("hparams", "message"), [
    ({"epochs": 2.5}, "hparams epochs = 2.5 is not valid; use a whole number, at least 1"),
    ({"epochs": 10.0}, "hparams epochs = 10.0 is not valid"),
    ({"epochs": True}, "hparams epochs = true is not valid"),
    ({"epochs": "two"}, 'hparams epochs = "two" is not valid'),
    ({"epochs": 0}, "hparams epochs = 0 is not valid"),
    ({"batch_size": "abc"}, 'hparams batch_size = "abc" is not valid; use a whole number'),
    ({"batch_size": 0}, "hparams batch_size = 0 is not valid"),
    ({"dense_units": 0}, "hparams dense_units = 0 is not valid"),
    ({"dropout": "abc"}, 'hparams dropout = "abc" is not valid; use a number from 0 up to, '
                         "not including, 1"),
    ({"dropout": 1}, "hparams dropout = 1 is not valid"),
    ({"dropout": -0.1}, "hparams dropout = -0.1 is not valid"),
    ({"learning_rate": 0}, "hparams learning_rate = 0 is not valid; use a finite number greater "
                           "than 0"),
    ({"learning_rate": -1e-3}, "hparams learning_rate = -0.001 is not valid"),
    ({"learning_rate": float("nan")}, "hparams learning_rate = nan is not valid"),
    ({"learning_rate": True}, "hparams learning_rate = true is not valid"),
    ({"head": "nosuch"}, 'hparams head = "nosuch" is not valid; use one of flatten, gap'),
    ({"eval_epoch": "best"}, "use one of last, best-val"),
    ({"precision": "float64"}, "use one of float32, mixed_float16"),
    ({"optimizer": "adamax"}, "use one of adam, sgd, adamw, rmsprop"),
    ({"xla": "yes"}, 'hparams xla = "yes" is not valid; use true or false'),
    ({"xla": 1}, "hparams xla = 1 is not valid; use true or false"),
    ({"epochz": 3}, "unknown hyper-parameter 'epochz' in hparams. Did you mean 'epochs'? Valid: "
                    "batch_size, dense_units, dropout, epochs, eval_epoch, head, learning_rate, "
                    "optimizer, precision, xla."),
])
def test_bad_hparams_are_one_line_naming_the_value_and_what_is_valid(hparams: dict,
                                                                     message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)) as caught:
        complete_hparams(hparams)
    assert "\n" not in str(caught.value)


def test_the_models_declare_the_reference_protocol_and_its_vocabulary() -> None:
    assert HParams().model_dump(exclude_none=True) == REFERENCE_HPARAMS
    assert set(HParams.model_fields) == {*REFERENCE_HPARAMS, "xla"}
    for key, values in (("head", HEADS), ("optimizer", OPTIMIZERS), ("eval_epoch", EVAL_EPOCHS),
                        ("precision", PRECISIONS)):
        assert REFERENCE_HPARAMS[key] in values
        for value in values:
            assert complete_hparams({key: value})[key] == value
    default = SplitSettings().config()
    assert default == SplitConfig()
