"""The typed settings of a task: its hyper-parameters and its split.

:class:`HParams` and :class:`SplitSettings` are the ``[hparams]`` and
``[split]`` sections of compare's settings (``search/settings.py``), and what
the engine checks a :class:`~blockbench.core.task.Task` against before it
trains anything (:func:`complete_hparams`, :func:`check_split`).

Numbers keep the type they were given (``learning_rate = 1`` stays the integer
1), because the hyper-parameters enter the run hash as given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from blockbench.core.spec import (
    EVAL_EPOCHS,
    HEADS,
    OPTIMIZERS,
    PRECISIONS,
    REFERENCE_HPARAMS,
)
from blockbench.core.task import SPLIT_KINDS, SplitConfig
from blockbench.core.validation import Source, StrictModel, one_of, validate

WHOLE = "a whole number, at least 1"
#: A positive whole number (a float, even 2.0, or a boolean is refused).
Count = Annotated[int, Field(ge=1, description=WHOLE)]

_CHOICES = {"head": HEADS, "optimizer": OPTIMIZERS, "eval_epoch": EVAL_EPOCHS,
            "precision": PRECISIONS}


class HParams(StrictModel):
    """Training hyper-parameters; unset ones are the reference protocol's (REFERENCE_HPARAMS)."""

    noun: ClassVar[str] = "hyper-parameter"

    head: str = Field(default=REFERENCE_HPARAMS["head"], description=one_of(HEADS))
    dense_units: Count = REFERENCE_HPARAMS["dense_units"]
    dropout: Annotated[int | float, Field(ge=0, lt=1)] = Field(
        default=REFERENCE_HPARAMS["dropout"], description="a number from 0 up to, not including, 1")
    optimizer: str = Field(default=REFERENCE_HPARAMS["optimizer"], description=one_of(OPTIMIZERS))
    learning_rate: Annotated[int | float, Field(gt=0)] = Field(
        default=REFERENCE_HPARAMS["learning_rate"],
        description="a finite number greater than 0, like 1e-3")
    batch_size: Count = REFERENCE_HPARAMS["batch_size"]
    epochs: Count = REFERENCE_HPARAMS["epochs"]
    eval_epoch: str = Field(default=REFERENCE_HPARAMS["eval_epoch"],
                            description=one_of(EVAL_EPOCHS))
    precision: str = Field(default=REFERENCE_HPARAMS["precision"],
                           description=one_of(PRECISIONS))
    xla: bool | None = Field(default=None, description="true or false")

    @field_validator(*_CHOICES)
    @classmethod
    def _one_of(cls, value: str, info: Any) -> str:
        if value not in _CHOICES[info.field_name]:
            raise ValueError(one_of(_CHOICES[info.field_name]))
        return value

    @field_validator("learning_rate")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("a finite number")
        return value


#: Where the engine's checks say the values are: a task's ``hparams`` and ``split``.
TASK_HPARAMS, TASK_SPLIT = Source("hparams"), Source("split")


def complete_hparams(hparams: Mapping[str, Any], source: Source = TASK_HPARAMS) -> dict[str, Any]:
    """The reference defaults completed with ``hparams``, which are checked (one-line errors).

    The result is what enters the run hash: the given values as they were given
    (``xla`` only when given) over REFERENCE_HPARAMS.
    """
    given = validate(HParams, hparams, source).model_dump(exclude_unset=True)
    return {**REFERENCE_HPARAMS, **given}


class SplitSettings(StrictModel):
    """How to split a dataset: the ``[split]`` section, made a :class:`~blockbench.core.task.SplitConfig`."""

    noun: ClassVar[str] = "split setting"

    kind: str = Field(default="stratified", description=one_of(SPLIT_KINDS))
    fractions: list[float] = Field(
        default=[0.7, 0.2, 0.1],
        description="three positive numbers (train, val, test) that sum to 1, like [0.7, 0.2, 0.1]")
    seed: int = Field(default=0, ge=0, description="a whole number, at least 0")

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in SPLIT_KINDS:
            raise ValueError(one_of(SPLIT_KINDS))
        return value

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        if len(value) != 3 or min(value) <= 0 or abs(sum(value) - 1.0) > 1e-6:
            raise ValueError("three positive numbers that sum to 1")
        return value

    def config(self) -> SplitConfig:
        return SplitConfig(kind=self.kind, fractions=(self.fractions[0], self.fractions[1],
                                                      self.fractions[2]), seed=self.seed)


def check_split(split: SplitConfig, source: Source = TASK_SPLIT) -> None:
    """Refuse a split that is not valid, in one line."""
    validate(SplitSettings, {"kind": split.kind, "fractions": list(split.fractions),
                             "seed": split.seed}, source)
