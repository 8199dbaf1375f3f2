"""Kinds of run failure, and which of them a retry can cure.

A failed run's record holds its error as one line, ``"<exception type>: <reason>"``
(see :func:`blockbench.train.loop.fail`). Training is deterministic, so a run
whose loss turned NaN turns NaN again at the same epoch: retrying it only
spends the time twice. Running out of memory depends on what else holds the
device, and a worker lost mid-run leaves no failure at all (its claim is taken
over), so those are tried again. The kind is read from the error text rather
than stored beside it, so records written before the distinction keep their
layout and are classified the same way.
"""

from __future__ import annotations

NAN = "nan"
OOM = "oom"
ERROR = "error"

#: Exception type (the error's prefix) -> failure kind.
KINDS = {
    "RunFailed": NAN,  # non-finite training or evaluation loss
    "ResourceExhaustedError": OOM,
    "MemoryError": OOM,
}

#: Kinds that happen again, identically, when the run is trained again.
DETERMINISTIC = frozenset({NAN})


def failure_kind(error: str | None) -> str:
    """The kind of a failed run's ``error``: ``"nan"``, ``"oom"`` or ``"error"`` (anything else)."""
    prefix = (error or "").partition(":")[0].strip()
    return KINDS.get(prefix, ERROR)


def retryable(error: str | None) -> bool:
    """Whether a run that failed with ``error`` may succeed when trained again."""
    return failure_kind(error) not in DETERMINISTIC
