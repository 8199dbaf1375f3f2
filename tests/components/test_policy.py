"""The policy contract: options checked by the registered name, and the whole Evaluator protocol."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from blockbench_plugins.policies import RandomBlocks

from blockbench.components.policy import (
    Budget,
    Evaluator,
    Observation,
    Policy,
    PolicyResult,
    SearchSpace,
    Signal,
    SignalUnavailable,
    check_policy_options,
    full_epochs_of,
)
from blockbench.core.errors import UsageError
from blockbench.core.options import REQUIRED
from blockbench.replay.tables import ReplayEvaluator
from blockbench.search.evaluator import CostTracker
from blockbench.testing import FakeEvaluator
from tests.replay_tables import one_table


def test_option_errors_name_the_registered_policy_not_its_class() -> None:
    with pytest.raises(UsageError) as info:
        check_policy_options("random", RandomBlocks, {"kk": 3})
    assert str(info.value) == "unknown option(s) kk for policy 'random'; valid: k. Did you mean 'k'?"
    with pytest.raises(UsageError, match="k=0 of policy random is not valid"):
        check_policy_options("random", RandomBlocks, {"k": 0})  # its own value check, too
    check_policy_options("random", RandomBlocks, {"k": 2})
    with pytest.raises(UsageError) as direct:
        RandomBlocks(kk=3)  # constructed directly, without a name: never the class name
    assert "RandomBlocks" not in str(direct.value) and "unknown policy option(s) kk" in str(direct.value)


class NeedsTarget(Policy):
    """A policy with a required option."""

    option_defaults = {"target": REQUIRED}

    def search(self, space: SearchSpace, evaluator: Evaluator, budget: Budget,
               seed: int) -> PolicyResult:
        observations = [evaluator.evaluate(self.options["target"])]
        return PolicyResult(observations[0].target, observations)


def test_a_required_policy_option_fails_before_the_policy_is_built() -> None:
    with pytest.raises(UsageError, match=r"^policy 'needs-target' needs the option target; "):
        check_policy_options("needs-target", NeedsTarget, {})
    assert NeedsTarget(target="block:0").options == {"target": "block:0"}


def test_a_plain_callable_factory_checks_its_own_options() -> None:
    calls: list[dict[str, Any]] = []

    def factory(**options: Any) -> Policy:
        calls.append(options)
        return NeedsTarget(target="block:0")

    check_policy_options("callable", factory, {"anything": 1})  # nothing to check by name
    assert calls == []


def test_every_evaluator_implements_the_whole_protocol() -> None:
    fake = FakeEvaluator({"block:0": 0.5}, {"block:0": 0.5}, full_epochs=4)
    replay = ReplayEvaluator(one_table([[0.5, 0.6]]), 0)
    tracker = CostTracker(SimpleNamespace(full_epochs=10))  # type: ignore[arg-type]
    for evaluator in (fake, replay, tracker):
        assert isinstance(evaluator, Evaluator), type(evaluator).__name__
    assert full_epochs_of(fake) == fake.full_epochs == 4
    assert full_epochs_of(replay) == 10 and full_epochs_of(tracker) == 10
    assert fake.evaluate("block:0") == Observation("block:0", 0.5, 4, True)


def test_the_fake_evaluator_serves_the_signals_it_was_given() -> None:
    stored = Signal("gradient-norm", {}, {"block:0": 1.0}, runs=1, epochs=2)
    fake = FakeEvaluator({"block:0": 0.5}, {}, signals={"gradient-norm": stored})
    assert fake.signal("gradient-norm", _never, head_epochs=2) is stored
    assert fake.signal_requests == [("gradient-norm", {"head_epochs": 2})]
    with pytest.raises(SignalUnavailable, match="serves no 'other' signal"):
        fake.signal("other", _never)


def _never(*args: Any, **kwargs: Any) -> Signal:
    raise AssertionError("a fake evaluator never measures")
