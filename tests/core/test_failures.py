"""Failure kinds are read from the error a failed run records: NaN is final, out of memory is not."""

from __future__ import annotations

import pytest

from blockbench.core.failures import ERROR, NAN, OOM, failure_kind, retryable
from blockbench.train.loop import RunFailed, fail
from tests.factories import make_run, make_spec


def recorded_error(exc: BaseException) -> str | None:
    record = make_run(make_spec("block:1"), 0.5, 0.5)
    fail(record, exc)
    return record.error


class ResourceExhaustedError(Exception):
    """Stands in for tf.errors.ResourceExhaustedError: only its name is recorded."""


@pytest.mark.parametrize(("exc", "kind", "again"), [
    (RunFailed("loss became NaN or infinite in epoch 3"), NAN, False),
    (RunFailed("evaluation loss is NaN or infinite"), NAN, False),
    (MemoryError(), OOM, True),
    (ResourceExhaustedError("OOM when allocating tensor"), OOM, True),
])
def test_the_errors_training_records_are_classified(exc, kind, again):
    error = recorded_error(exc)
    assert (failure_kind(error), retryable(error)) == (kind, again)


@pytest.mark.parametrize("error", [None, "", "RuntimeError: boom", "no colon at all"])
def test_anything_else_is_an_error_worth_retrying(error):
    assert (failure_kind(error), retryable(error)) == (ERROR, True)
