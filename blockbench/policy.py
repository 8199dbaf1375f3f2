"""Public import path for plugin authors: re-exports :mod:`blockbench.components.policy`."""

from blockbench.components.policy import (
    REQUIRED,
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
    check_int,
    check_policy_options,
    evaluate_batch,
    full_epochs_of,
    run_limit,
)

__all__ = [
    "REQUIRED",
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
    "check_int",
    "check_policy_options",
    "evaluate_batch",
    "full_epochs_of",
    "run_limit",
]
