"""Public import path for plugin authors: re-exports :mod:`blockbench.components.policy`."""

from blockbench.components.policy import (
    Budget,
    Evaluator,
    Observation,
    Policy,
    PolicyFactory,
    PolicyResult,
    SearchSpace,
    Signal,
    SignalUnavailable,
    best_on_validation,
)

__all__ = [
    "Budget",
    "Evaluator",
    "Observation",
    "Policy",
    "PolicyFactory",
    "PolicyResult",
    "SearchSpace",
    "Signal",
    "SignalUnavailable",
    "best_on_validation",
]
